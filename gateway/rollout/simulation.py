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

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select

from detectors.findings import Finding, Layout, Location, ScanResult
from gateway.policy.engine import decide, decide_failure, detectors_still_open
from gateway.policy.loader import Policy
from gateway.records import Action, Channel, Decision, Exemption, Upload
from gateway.store.models import DecisionRow
from gateway.store.store import DecisionStore

BATCH = 5_000  # rows read at once
EXAMPLES = 5  # example references per kind of change
MAX_DECISIONS = 5_000_000  # the most decisions one simulation replays (newest first)

_EXEMPTION = TypeAdapter(Exemption)
_LAYOUTS = {layout.value: layout for layout in Layout}


@dataclass
class Simulation:
    draft: str  # the draft's digest
    since: datetime
    replayed: int = 0
    changed: int = 0
    not_replayable: int = 0  # recorded before Detour kept findings (store migration 0004)
    uncertain: int = 0  # replayed on what was kept, though the draft would read more of the upload
    before: Counter[str] = field(default_factory=Counter)  # action → decisions, as decided then
    after: Counter[str] = field(default_factory=Counter)  # action → decisions, under the draft
    would_before: Counter[str] = field(default_factory=Counter)  # monitor mode: would block / would warn
    would_after: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)  # "block → warn" → changed decisions
    rules_before: Counter[str] = field(default_factory=Counter)  # among changed decisions: the rules that decided
    rules_after: Counter[str] = field(default_factory=Counter)
    monitored: Counter[str] = field(default_factory=Counter)  # rules in monitor mode → uploads they'd stop more
    destinations: Counter[str] = field(default_factory=Counter)  # host → changed decisions
    examples: dict[str, list[str]] = field(default_factory=dict)  # transition → decision references
    changed_ids: list[str] = field(default_factory=list)
    truncated: bool = False  # more than MAX_DECISIONS: the oldest were left out

    def as_json(self) -> dict[str, Any]:
        return {
            "draft": self.draft, "since": self.since.isoformat(), "replayed": self.replayed, "changed": self.changed,
            "not_replayable": self.not_replayable, "uncertain": self.uncertain, "truncated": self.truncated,
            "actions": {"before": dict(self.before), "after": dict(self.after)},
            "would": {"before": dict(self.would_before), "after": dict(self.would_after)},
            "transitions": [{"change": k, "decisions": n, "examples": self.examples.get(k, [])}
                            for k, n in self.transitions.most_common()],
            "rules": {"before": dict(self.rules_before.most_common()), "after": dict(self.rules_after.most_common())},
            "monitored_rules": dict(self.monitored.most_common()),
            "destinations": dict(self.destinations.most_common(20)),
        }


def simulate(store: DecisionStore, draft: Policy, since: datetime, until: datetime | None = None) -> Simulation:
    result = Simulation(draft.digest, since)
    columns = (DecisionRow.id, DecisionRow.created, DecisionRow.file_name, DecisionRow.destination,
               DecisionRow.size, DecisionRow.sha256, DecisionRow.user, DecisionRow.group, DecisionRow.channel,
               DecisionRow.client_ip, DecisionRow.api_client, DecisionRow.evidence, DecisionRow.outcome,
               DecisionRow.failure, DecisionRow.destination_host)
    cursor: tuple[datetime, str] | None = None
    with store.session() as session:
        while result.replayed + result.not_replayable < MAX_DECISIONS:
            query = select(*columns).where(DecisionRow.created >= since)
            if until is not None:
                query = query.where(DecisionRow.created < until)
            if cursor is not None:
                query = query.where((DecisionRow.created < cursor[0])
                                    | ((DecisionRow.created == cursor[0]) & (DecisionRow.id < cursor[1])))
            rows = session.execute(query.order_by(DecisionRow.created.desc(), DecisionRow.id.desc())
                                   .limit(BATCH)).all()
            if not rows:
                return result
            for row in rows:
                _replay(row, draft, result)
            cursor = (rows[-1].created, rows[-1].id)
    result.truncated = True
    return result


def _replay(row: Any, draft: Policy, result: Simulation) -> None:
    evidence, outcome = row.evidence, row.outcome
    if evidence is None or outcome is None:
        result.not_replayable += 1
        return
    upload = Upload(file_name=row.file_name, destination=row.destination, size=row.size, sha256=row.sha256,
                    user=row.user, group=row.group, channel=Channel(row.channel), client_ip=row.client_ip,
                    api_client=row.api_client)
    if row.failure:
        now = decide_failure(upload, draft, row.failure, row.id)
    else:
        exemption = outcome.get("exemption")
        exemptions = (_EXEMPTION.validate_python(exemption),) if exemption else ()
        scan = scan_of(evidence)
        now = decide(scan, upload, draft, row.id, exemptions)
        if scan.partial and detectors_still_open(scan.findings, upload, draft, exemptions):
            result.uncertain += 1  # more of the upload could change what the draft decides
    result.replayed += 1
    then_action = outcome["action"]
    then_rules = [r["rule"] for r in outcome.get("reasons", ())]
    then_would = _would(then_action, outcome.get("monitored", ()))
    now_rules = [r.rule for r in now.reasons]
    now_would = now.would.value if now.would else None
    result.before[then_action] += 1
    result.after[now.action.value] += 1
    if then_would:
        result.would_before[then_would] += 1
    if now_would:
        result.would_after[now_would] += 1
        result.monitored.update(r.rule for r in now.monitored if r.action.severity > now.action.severity)
    if then_action == now.action.value and then_rules == now_rules and then_would == now_would:
        return
    change = changed(then_action, then_rules, then_would, now)
    result.changed += 1
    result.transitions[change] += 1
    result.rules_before.update(then_rules)
    result.rules_after.update(now_rules)
    result.destinations[row.destination_host] += 1
    examples = result.examples.setdefault(change, [])
    if len(examples) < EXAMPLES:
        examples.append(row.id)
    result.changed_ids.append(row.id)


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


def scan_of(evidence: dict[str, Any]) -> ScanResult:
    """``records.Evidence.scan()`` straight from the stored JSON: the findings as ``decide`` needs them (built
    directly: a replay of a week of traffic builds millions)."""
    layouts = _LAYOUTS
    findings = tuple(Finding(entity, "", digest, score, Location(part, "", record, block), layouts[layout])
                     for entity, digest, score, part, record, block, layout in evidence.get("trace", ()))
    partial = bool(evidence.get("partial")) or not evidence.get("traced", True) or bool(evidence.get("skipped"))
    return ScanResult(evidence.get("mime_type", ""), findings, evidence.get("parts", 0),
                      evidence.get("characters", 0), partial, bool(evidence.get("skipped")))
