"""Simulation against history: what a draft policy would have decided on the uploads Detour recorded.

Each recorded decision keeps what ``decide`` needs (``records.Evidence``: the masked findings, the destination,
who sent it), so a draft is replayed without reading any file again: every decision since a moment is decided
again under the draft and compared with what was decided then. A change is a different action, different
deciding rules, or a different "would" of rules in monitor mode. The exception that decided a recorded upload
is offered to the draft too (IT granted it; the draft does not revoke it); uploads decided by ``on_error`` are
decided by the draft's ``on_error``.

A decision whose content was not read at the time (no rule could act on it then) or whose findings were too
many to keep one by one is replayed on what was kept; when the draft would read more of it, it is counted as
not fully replayable, so nobody takes the numbers for more than they are.

Rows are read in batches, newest first, and only the columns needed: memory stays flat however long the period.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select

from detectors.findings import Finding, Layout, Location, ScanResult
from gateway.errors import BadRequest, DetourError
from gateway.policy.engine import (
    decide,
    decide_failure,
    detectors_of,
    detectors_still_open,
    detectors_that_matter,
    measure,
)
from gateway.policy.loader import Policy, parse_policy
from gateway.policy.schema import DataClass
from gateway.records import Action, Channel, DataClassHit, Decision, Exemption, Upload
from gateway.store.admin import after
from gateway.store.exemptions import exemption_of
from gateway.store.models import DecisionRow, ExemptionRow
from gateway.store.store import DecisionStore, aware
from gateway.store.versions import stored_policy

BATCH = 5_000  # rows read at once (their outcomes: a few hundred bytes each)
EVIDENCE_BATCH = 50  # rows whose findings are read at once (each keeps up to MAX_TRACE findings)
MAX_DRAFT_FILES = 50  # a draft sent to the console or the API: at most this many files…
MAX_DRAFT_FILE_BYTES = 1024 * 1024  # …each at most this big (the request is held to 2 MB in all)
MAX_DAYS = 366  # the longest period one simulation replays
MAX_SECONDS = 600.0  # the longest one simulation runs (then it reports what it replayed, newest first)
MAX_EXCEPTIONS = 100_000  # exceptions IT granted that a replay considers (the most recent)
MAX_CHANGED_IDS = 100_000  # references of changed decisions kept (for checks; the report shows examples)
MAX_HOSTS = 10_000  # destination hosts counted (the report shows the top 20)
MAX_REMEMBERED = 10_000  # (destination category, user, group) whose needed detectors are remembered
EXAMPLES = 5  # example references per kind of change
MAX_DECISIONS = 5_000_000  # the most decisions one simulation replays (newest first)

_EXEMPTION = TypeAdapter(Exemption)
_LAYOUTS = {layout.value: layout for layout in Layout}


@dataclass
class Simulation:
    draft: str  # the draft's digest
    since: datetime
    until: datetime | None = None
    replayed: int = 0
    changed: int = 0
    not_replayable: int = 0  # recorded before Detour kept findings (store migration 0004)
    vanished: int = 0  # purged (retention) while the replay ran
    uncertain: int = 0  # the draft would read more of the upload than was read then (or its sender is masked)
    before: Counter[str] = field(default_factory=Counter)  # action → decisions, as decided then
    after: Counter[str] = field(default_factory=Counter)  # action → decisions, under the draft
    would_before: Counter[str] = field(default_factory=Counter)  # monitor mode: would block / would warn
    would_after: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)  # "block → warn" → changed decisions
    rules_before: Counter[str] = field(default_factory=Counter)  # among changed decisions: the rules that decided
    rules_after: Counter[str] = field(default_factory=Counter)
    monitored_before: Counter[str] = field(default_factory=Counter)  # monitor-mode rule → decisions it would have
    monitored_after: Counter[str] = field(default_factory=Counter)  # made more severe (all replayed decisions)
    destinations: Counter[str] = field(default_factory=Counter)  # host → changed decisions (MAX_HOSTS hosts)
    examples: dict[str, list[str]] = field(default_factory=dict)  # transition → decision references
    changed_ids: list[str] = field(default_factory=list)  # the first MAX_CHANGED_IDS references that change
    truncated: str | None = None  # why not every decision of the period was replayed (the oldest were left out)

    def as_json(self) -> dict[str, Any]:
        return {
            "draft": self.draft, "since": self.since.isoformat(), "until": self.until.isoformat() if self.until
            else None, "replayed": self.replayed, "changed": self.changed, "not_replayable": self.not_replayable,
            "uncertain": self.uncertain, "vanished": self.vanished, "truncated": self.truncated,
            "actions": {"before": dict(self.before), "after": dict(self.after)},
            "would": {"before": dict(self.would_before), "after": dict(self.would_after)},
            "transitions": [{"change": k, "decisions": n, "examples": self.examples.get(k, [])}
                            for k, n in self.transitions.most_common()],
            "rules": {"before": dict(self.rules_before.most_common()), "after": dict(self.rules_after.most_common())},
            "monitored_rules": {"before": dict(self.monitored_before.most_common()),
                                "after": dict(self.monitored_after.most_common())},
            "destinations": dict(self.destinations.most_common(20)),
        }


def simulate(store: DecisionStore, draft: Policy, since: datetime, until: datetime | None = None,
             who_of: Callable[[str], str] | None = None, seconds: float = MAX_SECONDS,
             max_upload_bytes: int | None = None) -> Simulation:
    """Replay the decisions recorded from ``since`` (to ``until``) against ``draft``, newest first. ``who_of``:
    the keyed hash of a user name as the store keeps it (``Decision.who``), so rules and exceptions naming people
    still match senders whose names were masked. ``max_upload_bytes``: the gateway's upload limit
    (``DETOUR_MAX_UPLOAD_BYTES``), which a policy's ``limits`` may override. Stops after ``seconds`` or
    ``MAX_DECISIONS`` (``truncated`` says why)."""
    result = Simulation(draft.digest, since, until)
    replayer = _Replayer(store, draft, result, who_of, _exceptions(store, since), max_upload_bytes)
    columns = (DecisionRow.id, DecisionRow.created, DecisionRow.file_name, DecisionRow.destination,
               DecisionRow.size, DecisionRow.sha256, DecisionRow.user, DecisionRow.group, DecisionRow.channel,
               DecisionRow.client_ip, DecisionRow.api_client, DecisionRow.outcome, DecisionRow.failure,
               DecisionRow.destination_host, DecisionRow.policy_digest, DecisionRow.partial, DecisionRow.looked_for,
               DecisionRow.who)
    cursor: tuple[datetime, str] | None = None
    deadline = time.monotonic() + seconds
    while True:
        if result.replayed + result.not_replayable >= MAX_DECISIONS:
            result.truncated = f"more than {MAX_DECISIONS:,} decisions"
            return result
        if time.monotonic() > deadline:
            result.truncated = f"more than {seconds:g} s"
            return result
        with store.session() as session:  # one per batch: a long replay never holds the database's snapshot
            query = select(*columns).where(DecisionRow.created >= since)
            if until is not None:
                query = query.where(DecisionRow.created < until)
            if cursor is not None:
                query = query.where(*after(cursor))
            rows = session.execute(query.order_by(DecisionRow.created.desc(), DecisionRow.id.desc())
                                   .limit(BATCH)).all()
            if not rows:
                return result
            later = [row for row in rows if not replayer.replay(row, None)]
            for start in range(0, len(later), EVIDENCE_BATCH):  # these need their findings: read a few at a time
                chunk = later[start:start + EVIDENCE_BATCH]
                for row, evidence in zip(chunk, _evidence(session, chunk), strict=True):
                    replayer.replay(row, evidence)
                if time.monotonic() > deadline:
                    result.truncated = f"more than {seconds:g} s"
                    return result
        cursor = (rows[-1].created, rows[-1].id)


@dataclass(frozen=True)
class _Granted:
    """An exception IT granted, with when it was in force."""

    exemption: Exemption
    created: datetime
    ended: datetime  # its end, or when it was revoked

    def in_force(self, moment: datetime) -> bool:
        return self.created <= moment < self.ended


def _exceptions(store: DecisionStore, since: datetime) -> dict[str, list[_Granted]]:
    """The exceptions in force at some time since ``since``, by host (subdomain ones under "")."""
    by_host: dict[str, list[_Granted]] = {}
    with store.session() as session:
        rows = session.scalars(select(ExemptionRow).where(ExemptionRow.expires >= since)
                               .order_by(ExemptionRow.id.desc()).limit(MAX_EXCEPTIONS)).all()
        for row in rows:
            ended = min(aware(row.expires), aware(row.revoked)) if row.revoked else aware(row.expires)
            granted = _Granted(exemption_of(row), aware(row.created), ended)
            by_host.setdefault("" if row.subdomains else row.destination_host, []).append(granted)
    return by_host


def _evidence(session: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """The stored evidence of ``rows``, as much as a replay needs: the trace alone when the row says whether the
    scan was partial (the database takes the rest apart, a fraction of the bytes reach Python), else all of it.
    An empty dict: none kept."""
    known = [r.id for r in rows if r.partial is not None]
    unknown = [r.id for r in rows if r.partial is None]
    found: dict[str, dict[str, Any]] = {}
    if known:
        for decision_id, trace in session.execute(select(DecisionRow.id, DecisionRow.evidence["trace"])
                                                  .where(DecisionRow.id.in_(known))):
            found[decision_id] = {"trace": trace} if isinstance(trace, list) else {}
    if unknown:
        for decision_id, evidence in session.execute(select(DecisionRow.id, DecisionRow.evidence)
                                                     .where(DecisionRow.id.in_(unknown))):
            found[decision_id] = evidence if isinstance(evidence, dict) else {}
    partial = {r.id: bool(r.partial) for r in rows if r.partial is not None}
    return [VANISHED if r.id not in found else {**found[r.id], "partial": partial[r.id]}
            if r.id in partial and found[r.id] else found[r.id] for r in rows]


VANISHED: dict[str, Any] = {"vanished": True}  # purged (retention) while the replay ran


class _Replayer:
    """Decides recorded decisions again under the draft. A data class the draft defines exactly as the policy
    that recorded the decision did (same detectors, same thresholds) is not measured again: its numbers are in
    the recorded decision (measured on every finding, where the kept trace may hold only the first). Findings
    are read only for the data classes the draft changed, and for uploads that were not read in full."""

    def __init__(self, store: DecisionStore, draft: Policy, result: Simulation,
                 who_of: Callable[[str], str] | None, granted: dict[str, list[_Granted]],
                 max_upload_bytes: int | None) -> None:
        self.store, self.draft, self.result, self.granted = store, draft, result, granted
        self.max_upload_bytes = max_upload_bytes
        self._limits: dict[str | None, tuple[int | None, bool]] = {}  # recorded policy → upload limit, others same
        self._versions: dict[str, Policy | None] = {}
        self._same: dict[str | None, frozenset[str]] = {}
        self._all: dict[str | None, frozenset[str] | None] = {}  # recorded policy → every detector it had
        self._entities: dict[frozenset[str], frozenset[str]] = {}
        self._needed: dict[tuple[str, str | None, str | None], frozenset[str]] = {}
        rules = draft.document.rules
        exceptions = [g.exemption for listed in granted.values() for g in listed]
        named = {u for r in rules for u in (*r.when.users, *(r.unless.users if r.unless else ()))}
        named |= {e.user for e in exceptions if e.user}
        self.names = {who_of(f"user:{name}"): name for name in named} if who_of is not None else {}
        self.groups_matter = any(r.when.groups or (r.unless and r.unless.groups) for r in rules) or \
            any(e.group for e in exceptions)

    def same_classes(self, digest: str | None) -> frozenset[str]:
        """The draft's data classes whose numbers the policy version ``digest`` measured as the draft would (none:
        version unknown): the same detectors and minimum score, and people counted when the draft counts them.
        Their thresholds may differ: the numbers are the same, only whether they are reached is worked out again."""
        if digest not in self._same:
            recorded = self._recorded(digest)
            classes = {d.id: d for d in recorded.document.data_classes} if recorded is not None else {}
            self._same[digest] = frozenset(d.id for d in self.draft.document.data_classes
                                           if _measured_alike(d, classes.get(d.id)))
            self._all[digest] = detectors_of(recorded, set(classes)) if recorded is not None else None
        return self._same[digest]

    def _recorded(self, digest: str | None) -> Policy | None:
        """The policy version ``digest`` from the history, read and checked once per replay (None: not there)."""
        if not digest:
            return None
        if digest not in self._versions:
            try:
                self._versions[digest] = stored_policy(self.store, digest)
            except DetourError:  # not in the policy history, or no longer readable: measure everything
                self._versions[digest] = None
        return self._versions[digest]

    def entities_of(self, same: frozenset[str]) -> frozenset[str]:
        """The detectors whose findings measure the draft's data classes not in ``same`` (names, when one
        counts people)."""
        if same not in self._entities:
            changed = {d.id for d in self.draft.document.data_classes if d.id not in same}
            self._entities[same] = detectors_of(self.draft, changed)
        return self._entities[same]

    def needs_more(self, row: Any, upload: Upload) -> bool:
        """Whether the draft would read the upload for detectors it was not read for then."""
        category = self.draft.destinations.classify(upload.destination).category
        key = (category, upload.user, upload.group)
        needed = self._needed.get(key)
        if needed is None:
            if len(self._needed) >= MAX_REMEMBERED:
                self._needed.clear()
            needed = self._needed[key] = detectors_that_matter(upload, self.draft)
        read_for = frozenset(row.looked_for) if row.looked_for is not None else self._all.get(row.policy_digest)
        if read_for is None:  # read for all its policy had, and that policy is not in the history: who knows
            return bool(needed)
        return not needed <= read_for

    def limits(self, digest: str | None) -> tuple[int | None, bool]:
        """The upload limit of the policy version ``digest`` (None: not known), and whether its other limits are
        the draft's (archive depth, members, pages…: what was unreadable then may not be now, and the reverse)."""
        if digest not in self._limits:
            recorded = self._recorded(digest)
            if recorded is None:
                self._limits[digest] = (None, True)
            else:
                then, now = recorded.document.limits, self.draft.document.limits
                same = then.model_dump(exclude={"max_upload_bytes"}) == now.model_dump(exclude={"max_upload_bytes"})
                self._limits[digest] = (then.max_upload_bytes or self.max_upload_bytes, same)
        return self._limits[digest]

    def in_force(self, row: Any, host: str) -> tuple[Exemption, ...]:
        """The exceptions in force for this host when the decision was made."""
        moment = aware(row.created)
        candidates = self.granted.get(host, []) + self.granted.get("", [])
        return tuple(g.exemption for g in candidates if g.in_force(moment))

    def replay(self, row: Any, evidence: dict[str, Any] | None) -> bool:
        """Decide ``row`` again; False when its findings are needed and ``evidence`` was not given."""
        result, draft, outcome = self.result, self.draft, row.outcome
        if not outcome:
            result.not_replayable += 1
            return True
        if evidence is VANISHED:
            result.vanished += 1
            return True
        partial = row.partial is not False  # None: recorded before Detour said; its findings will tell
        same = self.same_classes(row.policy_digest)
        classes = draft.document.data_classes
        if evidence is None and not row.failure and (partial or any(d.id not in same for d in classes)):
            return False  # its findings are needed: read with the rest of the batch's
        user, uncertain = row.user, False
        if user and "*" in user:  # masked when recorded: the keyed hash says who, for the people rules name
            user = self.names.get(row.who, user)
        if self.groups_matter and row.group and "*" in row.group:
            uncertain = True  # a group name masked when recorded can't be matched against the draft's
        upload = Upload(file_name=row.file_name, destination=row.destination, size=row.size, sha256=row.sha256,
                        user=user, group=row.group, channel=Channel(row.channel), client_ip=row.client_ip,
                        api_client=row.api_client)
        if row.failure:
            now = decide_failure(upload, draft, row.failure, row.id)
        else:
            exemptions = self.in_force(row, row.destination_host)
            recorded = outcome.get("exemption")
            if recorded and all(e.id != recorded["id"] for e in exemptions):  # one granted before this replay knew
                exemptions += (_EXEMPTION.validate_python(recorded),)
            limit = draft.document.limits.max_upload_bytes or self.max_upload_bytes
            then_limit, same_limits = self.limits(row.policy_digest)
            if not same_limits:
                uncertain = True  # what a limit made unreadable then may be read now, or the reverse
            if limit is not None and row.size > limit:  # over the draft's limit: unread, as the pipeline does
                scan = ScanResult("", (Finding.unscannable(row.file_name, "over the upload limit"),))
                now = decide(scan, upload, draft, row.id, exemptions)
            elif then_limit is not None and row.size > then_limit:  # unread then, read under the draft
                now = decide(ScanResult("", partial=True, skipped=True), upload, draft, row.id, exemptions)
                uncertain = True
            elif evidence is None:  # every data class as recorded: no finding needs reading
                kept = {h["id"]: h for h in outcome.get("data_classes", ())}
                hits = [_hit(kept[d.id], d) for d in classes if d.id in kept]
                now = decide(ScanResult("", partial=False), upload, draft, row.id, exemptions, hits)
                uncertain = uncertain or self.needs_more(row, upload)
            else:
                if not evidence:
                    result.not_replayable += 1
                    return True
                # every finding when the scan was partial (the draft may read on: what it decides on all of them
                # counts), else those of the data classes to measure again
                scan = scan_of(evidence, None if partial else self.entities_of(same))
                kept = {h["id"]: h for h in outcome.get("data_classes", ()) if h["id"] in same}
                measured = {h.id: h for h in measure(scan, draft, [d for d in classes if d.id not in same])}
                hits = [_hit(kept[d.id], d) if d.id in kept else measured[d.id] for d in classes
                        if d.id in kept or d.id in measured]
                now = decide(scan, upload, draft, row.id, exemptions, hits)
                if scan.partial:  # more of the upload could change what the draft decides
                    uncertain = uncertain or bool(detectors_still_open(scan, upload, draft, exemptions))
                else:
                    uncertain = uncertain or self.needs_more(row, upload)
        result.uncertain += uncertain
        self._count(row, outcome, now)
        return True

    def _count(self, row: Any, outcome: dict[str, Any], now: Decision) -> None:
        result = self.result
        result.replayed += 1
        then_action = outcome["action"]
        then_rules = [r["rule"] for r in outcome.get("reasons", ())]
        then_monitored = [r for r in outcome.get("monitored", ())
                          if Action(r["action"]).severity > Action(then_action).severity]
        then_would = _would(then_action, then_monitored)
        now_rules = [r.rule for r in now.reasons]
        now_would = now.would.value if now.would else None
        result.before[then_action] += 1
        result.after[now.action.value] += 1
        if then_would:
            result.would_before[then_would] += 1
            result.monitored_before.update(r["rule"] for r in then_monitored)
        if now_would:
            result.would_after[now_would] += 1
            result.monitored_after.update(r.rule for r in now.monitored if r.action.severity > now.action.severity)
        if then_action == now.action.value and then_rules == now_rules and then_would == now_would:
            return
        change = changed(then_action, then_rules, then_would, now)
        result.changed += 1
        result.transitions[change] += 1
        result.rules_before.update(then_rules)
        result.rules_after.update(now_rules)
        if row.destination_host in result.destinations or len(result.destinations) < MAX_HOSTS:
            result.destinations[row.destination_host] += 1
        examples = result.examples.setdefault(change, [])
        if len(examples) < EXAMPLES:
            examples.append(row.id)
        if len(result.changed_ids) < MAX_CHANGED_IDS:
            result.changed_ids.append(row.id)


def _hit(kept: dict[str, Any], data_class: DataClass) -> DataClassHit:
    """A recorded data class's numbers, and whether the draft's thresholds for it are reached."""
    count, distinct, people = kept["count"], kept["distinct"], kept["people"]
    triggered = count >= data_class.min_count and distinct >= data_class.min_distinct and \
        (data_class.min_people is None or people >= data_class.min_people)
    return DataClassHit(kept["id"], count, distinct, people, triggered)


def _measured_alike(draft: DataClass, recorded: DataClass | None) -> bool:
    return recorded is not None and set(draft.detectors) == set(recorded.detectors) and \
        draft.min_score == recorded.min_score and (draft.min_people is None or recorded.min_people is not None)


def draft_from(files: Sequence[tuple[str, bytes]], known_detectors: Iterable[str]) -> Policy:
    """A draft policy sent as files (the console's upload, the API): YAML files by name, checked like a policy
    folder. Raises ``BadRequest`` for what is not a draft, ``PolicyError`` for an invalid one."""
    if not files:
        raise BadRequest("Send the draft's policy files (*.yaml), all of them: the draft replaces the whole policy.")
    if len(files) > MAX_DRAFT_FILES:
        raise BadRequest(f"A draft has at most {MAX_DRAFT_FILES} files.")
    named: dict[str, bytes] = {}
    for name, content in files:
        base = PurePosixPath(name.replace("\\", "/")).name
        if not base.endswith((".yaml", ".yml")) or not base.isprintable() or len(base) > 200:
            raise BadRequest("Policy files are *.yaml (or *.yml) files.")
        if len(content) > MAX_DRAFT_FILE_BYTES:
            raise BadRequest(f"{base} is larger than {MAX_DRAFT_FILE_BYTES // 1024} KB: not a policy file.")
        if base in named:
            raise BadRequest(f"{base} is there twice.")
        named[base] = content
    ordered = sorted(n for n in named if n.endswith(".yaml")) + sorted(n for n in named if n.endswith(".yml"))
    return parse_policy([(name, named[name]) for name in ordered], Path("(draft)"), known_detectors)


def changed(then_action: str, then_rules: list[str], then_would: str | None, now: Decision) -> str:
    """A change in words: ``block → warn``; ``block (other rules)``; ``allow (would block → none)``."""
    if then_action != now.action.value:
        return f"{then_action} → {now.action.value}"
    now_would = now.would.value if now.would else None
    if then_would != now_would:
        return f"{then_action} (would {then_would or 'nothing'} → would {now_would or 'nothing'})"
    return f"{then_action} (other rules)"


def _would(action: str, monitored: Any) -> str | None:
    severity = Action(action).severity
    actions = [Action(r["action"]) for r in monitored]
    most = max(actions, key=lambda a: a.severity, default=None)
    return most.value if most is not None and most.severity > severity else None


def scan_of(evidence: dict[str, Any], entities: frozenset[str] | None = None) -> ScanResult:
    """``records.Evidence.scan()`` straight from the stored JSON: the findings as ``decide`` needs them (built
    directly: a replay of a week of traffic builds millions); only those of ``entities`` when given."""
    layouts = _LAYOUTS
    findings = tuple(Finding(entity, "", digest, score, Location(part, "", record, block), layouts[layout])
                     for entity, digest, score, part, record, block, layout in evidence.get("trace", ())
                     if entities is None or entity in entities)
    partial = bool(evidence.get("partial")) or not evidence.get("traced", True) or bool(evidence.get("skipped"))
    return ScanResult(evidence.get("mime_type", ""), findings, evidence.get("parts", 0),
                      evidence.get("characters", 0), partial, bool(evidence.get("skipped")))
