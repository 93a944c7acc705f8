"""``decide``: findings + upload + policy → decision. Pure: no I/O, no clock, no randomness.

Every rule whose condition holds is triggered; the most severe action wins
(block > warn > allow), and the policy's default applies when none triggers.
Rules in monitor mode are evaluated the same way and recorded apart
(``Decision.monitored``, ``Decision.would``): they never change the action.
The routes offered are those the catalogue approves for every data class behind
the winning rules, ranked by ``alternatives.rank``.

``decide_failure`` decides an upload Detour could not finish checking (a
timeout, an internal error, no capacity left): the policy's ``on_error`` action
for the kind of destination, with the routes fit for content nobody checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from alternatives.rank import rank
from detectors.entities import PERSON, UNSCANNABLE
from detectors.findings import ScanResult
from detectors.people import count_people, distinct_swept
from gateway.policy.loader import Policy
from gateway.policy.schema import DataClass, Rule
from gateway.records import Action, DataClassHit, Decision, Destination, Exemption, Reason, Upload

FAILURE_RULE = "internal-{}"  # the reason's rule id of a decision by on_error: internal-timeout, -error, -busy
EXEMPTION_RULE = "exception-{}"  # the reason's rule id of a decision by an exception IT granted: exception-12


def decide(scan: ScanResult, upload: Upload, policy: Policy, decision_id: str,
           exemptions: Sequence[Exemption] = (), hits: Sequence[DataClassHit] | None = None) -> Decision:
    """``exemptions``: the exceptions IT granted that are in force now (the caller knows the time). ``hits``:
    the data classes already measured on ``scan`` (a replay whose data classes are unchanged), in policy order."""
    document = policy.document
    destination = policy.destinations.classify(upload.destination)
    hits = tuple(hits) if hits is not None else measure(scan, policy)
    triggered_classes = {h.id for h in hits if h.triggered}

    reasons: list[Reason] = []
    monitored: list[Reason] = []  # rules in monitor mode: recorded as what they would do, never acted on
    offered: list[str] = []
    for rule in document.rules:
        matched = _applies(rule, destination, upload, triggered_classes)
        if matched:
            (monitored if rule.mode == "monitor" else reasons).append(Reason(rule.id, rule.action, matched))
    exemption = _exempting(exemptions, upload, destination.host, reasons)
    if exemption is not None:  # the reasons it covers give way to it; any other still counts
        covered = [r for r in reasons if exemption.covers(r.data_classes)]
        reasons = [r for r in reasons if r not in covered]
        reasons.append(Reason(EXEMPTION_RULE.format(exemption.id), exemption.action,
                              tuple(dict.fromkeys(c for r in covered for c in r.data_classes))))
    action = max((r.action for r in reasons), key=lambda a: a.severity, default=document.policy.default_action)
    reasons = [r for r in reasons if r.action is action]

    alternatives: tuple[str, ...] = ()
    if action is not Action.ALLOW:
        classes = list(dict.fromkeys(c for r in reasons for c in r.data_classes))
        if scan.partial:  # the unread rest is content nobody checked: routes must be fit for that too
            classes += [c for c in _unchecked_classes(policy) if c not in classes]
        by_id = {rule.id: rule for rule in document.rules}
        for reason in reasons:
            if reason.rule in by_id:  # not an exception's reason
                offered.extend(a for a in by_id[reason.rule].alternatives if a not in offered)
        alternatives = _ranked(policy, classes, offered, upload.group)
    decided_by = exemption if exemption is not None and any(r.rule == EXEMPTION_RULE.format(exemption.id)
                                                            for r in reasons) else None
    return Decision(decision_id, action, destination, tuple(reasons), hits, alternatives, decided_by,
                    tuple(monitored))


def _exempting(exemptions: Sequence[Exemption], upload: Upload, host: str, reasons: list[Reason]) -> Exemption | None:
    """The exception for this sender and host that covers some stopping reason (the most recent one)."""
    stopping = [r for r in reasons if r.action is not Action.ALLOW]
    for exemption in sorted(exemptions, key=lambda e: -e.id):
        if exemption.applies_to(upload, host) and any(exemption.covers(r.data_classes) for r in stopping):
            return exemption
    return None


def decide_failure(upload: Upload, policy: Policy, what: str, decision_id: str) -> Decision:
    """An upload that could not be checked (``what``: timeout, error, busy): the policy's ``on_error``."""
    destination = policy.destinations.classify(upload.destination)
    on_error = policy.document.policy.on_error
    action = on_error.sanctioned if destination.sanctioned else on_error.unsanctioned
    alternatives = _ranked(policy, _unchecked_classes(policy), (), upload.group) if action is not Action.ALLOW \
        else ()
    return Decision(decision_id, action, destination, (Reason(FAILURE_RULE.format(what), action, ()),), (),
                    alternatives)


def detectors_that_matter(upload: Upload, policy: Policy) -> frozenset[str]:
    """The detectors whose findings could change the decision on this upload: those of the data classes of
    every rule that could apply to its destination, user and group (a rule that only allows, under a policy
    that allows by default, changes nothing), and names when a class counts people. Empty: whatever the
    upload holds, the decision is the same, so nothing needs to be read."""
    document = policy.document
    destination = policy.destinations.classify(upload.destination)
    every_class = {d.id for d in document.data_classes}
    default = document.policy.default_action
    classes = {c for rule in document.rules if not (rule.action is Action.ALLOW and default is Action.ALLOW)
               for c in _applies(rule, destination, upload, every_class)}
    return detectors_of(policy, classes)


def _monitor_open(decision: Decision, upload: Upload, policy: Policy, every_class: set[str]) -> set[str]:
    """The data classes of rules in monitor mode that could still apply here and have not yet: reading on
    for them changes no action, only the record of what they would do."""
    applied = {r.rule for r in decision.monitored}
    return {c for rule in policy.document.rules if rule.mode == "monitor" and rule.id not in applied
            and rule.action is not Action.ALLOW for c in _applies(rule, decision.destination, upload, every_class)}


def detectors_still_open(scan: ScanResult, upload: Upload, policy: Policy,
                         exemptions: Sequence[Exemption] = ()) -> frozenset[str]:
    """The detectors whose findings could still change the action decided on ``scan`` (the upload's so far).

    More findings can only trigger more rules, and the most severe triggered action wins: once some rule
    has triggered, only the data classes of more severe rules that could apply here are still open (a
    contact list already warned about needs no more counting; a key would still block). Before any rule
    has triggered, everything ``detectors_that_matter`` named still is. Empty: the action is certain, and
    the rest of the upload cannot change it.
    """
    decision = decide(scan, upload, policy, "probe", exemptions)
    if not decision.reasons:
        return detectors_that_matter(upload, policy)
    document = policy.document
    every_class = {d.id for d in document.data_classes}
    triggered = {h.id for h in decision.data_classes if h.triggered}
    stricter = [r for r in document.rules if r.mode == "enforce" and r.action.severity > decision.action.severity]
    classes = {c for rule in stricter
               for c in _applies(rule, decision.destination, upload, every_class) if c not in triggered}
    return detectors_of(policy, classes | _monitor_open(decision, upload, policy, every_class))


def detectors_of(policy: Policy, classes: set[str]) -> frozenset[str]:
    wanted: set[str] = set()
    for data_class in policy.document.data_classes:
        if data_class.id in classes:
            wanted.update(data_class.detectors)
            if data_class.min_people:
                wanted.add(PERSON)  # names tell people apart
    return frozenset(wanted)


def _unchecked_classes(policy: Policy) -> list[str]:
    """The data classes content nobody checked belongs to (those counting ``UNSCANNABLE``)."""
    return [d.id for d in policy.document.data_classes if UNSCANNABLE in d.detectors]


def _ranked(policy: Policy, classes: Sequence[str], offered: Sequence[str], group: str | None) -> tuple[str, ...]:
    return tuple(a.id for a in rank(policy.catalogue, classes, offered, group))


def measure(scan: ScanResult, policy: Policy, only: Sequence[DataClass] | None = None) -> tuple[DataClassHit, ...]:
    """What the upload holds of each data class of the policy (or of ``only`` those), never values."""
    classes = policy.document.data_classes if only is None else only
    return tuple(h for h in (_measure(dc, scan) for dc in classes) if h is not None)


def _measure(data_class: DataClass, scan: ScanResult) -> DataClassHit | None:
    detectors = frozenset(data_class.detectors)
    matches = [f for f in scan.findings if f.entity in detectors and f.score >= data_class.min_score]
    swept = [s for s in scan.swept if s.entity in detectors and s.score >= data_class.min_score]
    if not matches and not swept:
        return None
    count = len(matches) + sum(len(s) for s in swept)
    distinct = len({(f.entity, f.digest, f.note) for f in matches}) + distinct_swept(swept)
    people = 0
    if data_class.min_people:
        names = [f for f in scan.findings if f.entity == PERSON and PERSON not in detectors]  # tell people apart
        named = [s for s in scan.swept if s.entity == PERSON and PERSON not in detectors]
        people = count_people(matches + names, detectors, swept + named)
    triggered = (
        count >= data_class.min_count
        and distinct >= data_class.min_distinct
        and (data_class.min_people is None or people >= data_class.min_people)
    )
    return DataClassHit(data_class.id, count, distinct, people, triggered)


def _applies(rule: Rule, destination: Destination, upload: Upload, found: set[str]) -> tuple[str, ...]:
    """The data classes by which ``rule`` applies to this upload; empty when it does not."""
    when, unless = rule.when, rule.unless
    if when.sanctioned is not None and when.sanctioned != destination.sanctioned:
        return ()
    if when.destinations and destination.category not in when.destinations:
        return ()
    if when.groups and upload.group not in when.groups:
        return ()
    if when.users and upload.user not in when.users:
        return ()
    if unless is not None and (
        destination.category in unless.destinations
        or (upload.group is not None and upload.group in unless.groups)
        or (upload.user is not None and upload.user in unless.users)
    ):
        return ()
    return tuple(c for c in when.data_classes if c in found)
