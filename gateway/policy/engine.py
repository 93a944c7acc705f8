"""``decide``: findings + upload + policy → decision. Pure: no I/O, no clock, no randomness.

Every rule whose condition holds is triggered; the most severe action wins
(block > warn > allow), and the policy's default applies when none triggers.
The routes offered are those the catalogue approves for every data class behind
the winning rules, ranked by ``alternatives.rank``.
"""

from __future__ import annotations

from alternatives.rank import rank
from detectors.entities import PERSON, UNSCANNABLE
from detectors.findings import Finding, ScanResult
from detectors.people import count_people
from gateway.model import DataClassHit, Decision, Reason, Upload
from gateway.policy.destinations import Destination
from gateway.policy.loader import Policy
from gateway.policy.schema import Action, DataClass, Rule

MAX_EXAMPLES = 3


def decide(scan: ScanResult, upload: Upload, policy: Policy, decision_id: str) -> Decision:
    document = policy.document
    destination = policy.destinations.classify(upload.destination)
    hits = tuple(h for h in (_measure(dc, scan.findings) for dc in document.data_classes) if h is not None)
    triggered_classes = {h.id for h in hits if h.triggered}

    reasons: list[Reason] = []
    offered: list[str] = []
    for rule in document.rules:
        matched = _applies(rule, destination, upload, triggered_classes)
        if matched:
            reasons.append(Reason(rule.id, rule.action, matched))
    action = max((r.action for r in reasons), key=lambda a: a.severity, default=document.policy.default_action)
    reasons = [r for r in reasons if r.action is action]

    alternatives: tuple[str, ...] = ()
    if action is not Action.ALLOW:
        classes = list(dict.fromkeys(c for r in reasons for c in r.data_classes))
        if scan.partial:  # the unread rest is content nobody checked: routes must be fit for that too
            classes += [d.id for d in document.data_classes if UNSCANNABLE in d.detectors and d.id not in classes]
        for reason in reasons:
            rule = next(rule for rule in document.rules if rule.id == reason.rule)
            offered.extend(a for a in rule.alternatives if a not in offered)
        ranked = rank(policy.catalogue, classes, offered, upload.group)
        alternatives = tuple(a.id for a in ranked)
    return Decision(decision_id, action, destination, tuple(reasons), hits, alternatives)


def _measure(data_class: DataClass, findings: tuple[Finding, ...]) -> DataClassHit | None:
    detectors = frozenset(data_class.detectors)
    matches = [f for f in findings if f.entity in detectors and f.score >= data_class.min_score]
    if not matches:
        return None
    distinct = len({(f.entity, f.digest, f.note) for f in matches})
    names = [f for f in findings if f.entity == PERSON and PERSON not in detectors]  # names tell people apart
    people = count_people(matches + names, detectors) if data_class.min_people else 0
    triggered = (
        len(matches) >= data_class.min_count
        and distinct >= data_class.min_distinct
        and (data_class.min_people is None or people >= data_class.min_people)
    )
    examples = tuple(dict.fromkeys(f.masked or f.note for f in matches))[:MAX_EXAMPLES]
    return DataClassHit(data_class.id, len(matches), distinct, people, triggered, examples)


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
