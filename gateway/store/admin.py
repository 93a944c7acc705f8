"""IT's side of the store: admin tokens and their roles, the record of what admins do, the decisions
explorer's queries and exports, and IT's answers to review requests.

Roles, each including the ones before it: a *viewer* sees decisions and counts but never masked evidence;
a *reviewer* also sees the masked findings of a decision and answers review requests; a *policy admin*
also reads the record of admin actions (and, later, manages exceptions and policies).

An admin token is 32 random bytes (``dta_`` + URL-safe base64), shown once when it is made, kept only as
its SHA-256, with an expiry (at most ``MAX_DAYS``). Unlike API client tokens it is looked up in the store
on every call: the admin API is used by people and scripts, not by every upload, and a revoked token must
stop working at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.orm import Session

from gateway.errors import DetourError
from gateway.store.models import (
    AdminActionRow,
    AdminTokenRow,
    DecisionRow,
    QueueCommentRow,
    ReviewRequestRow,
    RouteTakenRow,
    WrongReportRow,
)
from gateway.store.store import DecisionStore, aware

PREFIX = "dta_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
MAX_TOKEN_CHARS = 200
USED_EVERY = timedelta(minutes=1)  # a token's last use is written at most this often
MAX_PAGE = 500  # decisions, reviews or actions in one answer
EXPORT_BATCH = 500  # decisions read from the store at a time while an export streams
MAX_REASON_CHARS = 2000


def visible(text: str) -> str:
    """``text`` as people see it: without format characters (zero-width spaces and joiners, a BOM), its blanks
    collapsed. What is empty here says nothing, whatever bytes it had."""
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    POLICY_ADMIN = "policy_admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Admin:
    """Who uses the admin API: a token's name and its role."""

    name: str
    role: Role


@dataclass(frozen=True)
class AdminTokenListing:
    name: str
    role: Role
    created: datetime
    expires: datetime
    revoked: datetime | None
    last_used: datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AdminTokens:
    def __init__(self, store: DecisionStore) -> None:
        self.store = store

    def create(self, name: str, role: Role, days: int = DEFAULT_DAYS) -> str:
        """A new admin token (shown only now). Raises ``DetourError`` for a name in use or a bad expiry."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise DetourError("give the token a name of 1 to 100 printable characters, e.g. the person or script")
        if not 1 <= days <= MAX_DAYS:
            raise DetourError(f"an admin token lasts 1 to {MAX_DAYS} days")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            if session.scalar(select(AdminTokenRow.id).where(AdminTokenRow.name == name)) is not None:
                raise DetourError(f"an admin token named {name!r} exists; revoke it first or choose another name")
            session.add(AdminTokenRow(name=name, role=role.value, token_sha256=_digest(token), created=now,
                                      expires=now + timedelta(days=days)))
        return token

    def find(self, token: str) -> Admin | None:
        """The admin a token names, if it is valid now (known, not revoked, not expired)."""
        if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_CHARS:
            return None
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            row = session.scalar(select(AdminTokenRow).where(AdminTokenRow.token_sha256 == _digest(token)))
            if row is None or row.revoked is not None or aware(row.expires) <= now:
                return None
            if row.last_used is None or now - aware(row.last_used) >= USED_EVERY:
                row.last_used = now
            return Admin(row.name, Role(row.role))

    def list(self) -> list[AdminTokenListing]:
        with self.store.session() as session:
            rows = session.scalars(select(AdminTokenRow).order_by(AdminTokenRow.name)).all()
            return [AdminTokenListing(r.name, Role(r.role), aware(r.created), aware(r.expires),
                                      aware(r.revoked) if r.revoked else None,
                                      aware(r.last_used) if r.last_used else None) for r in rows]

    def revoke(self, name: str) -> None:
        with self.store.session() as session, session.begin():
            done = session.execute(update(AdminTokenRow).where(AdminTokenRow.name == name,
                                                               AdminTokenRow.revoked.is_(None))
                                   .values(revoked=datetime.now(UTC)))
            if not getattr(done, "rowcount", 0):
                raise DetourError(f"no working admin token named {name!r} (see: detour admin token list)")


# --- the record of admin actions ----------------------------------------------------------------------------


def record_action(store: DecisionStore, admin: Admin, action: str, target: str | None = None,
                  client_ip: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Write down what an admin did (who, what, on what, when, from where)."""
    with store.session() as session, session.begin():
        session.add(AdminActionRow(created=datetime.now(UTC), actor=admin.name, role=admin.role.value,
                                   action=action, target=target, client_ip=client_ip, detail=detail))


def signed_out_since(store: DecisionStore, name: str, since: float) -> bool:
    """Whether ``name`` signed out of the console after ``since`` (a Unix time): their older sessions are over."""
    with store.session() as session:
        return session.scalar(select(AdminActionRow.id).where(
            AdminActionRow.actor == name, AdminActionRow.action == "console.sign_out",
            AdminActionRow.created > datetime.fromtimestamp(since, UTC)).limit(1)) is not None


def actions(store: DecisionStore, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """The most recent admin actions first; ``before``: an action id, for the next page."""
    query = select(AdminActionRow).order_by(AdminActionRow.id.desc()).limit(min(limit, MAX_PAGE))
    if before is not None:
        query = query.where(AdminActionRow.id < before)
    with store.session() as session:
        return [{"id": r.id, "time": aware(r.created).isoformat(), "actor": r.actor, "role": r.role,
                 "action": r.action, "target": r.target, "client_ip": r.client_ip, "detail": r.detail}
                for r in session.scalars(query)]


# --- the decisions explorer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionFilter:
    """Which decisions: every field given must hold (``None``: any)."""

    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None  # allow | warn | block
    rule: str | None = None  # a rule that decided it
    data_class: str | None = None  # a data class found in it
    user: str | None = None
    group: str | None = None
    destination: str | None = None  # a host, or the end of one (example.com matches files.example.com)
    category: str | None = None  # a destination category of the policy
    channel: str | None = None  # api | icap | intercept | cli
    api_client: str | None = None
    justified: bool | None = None  # a warning let through by a justification
    failure: str | None = None  # timeout | error | busy: decided by on_error
    exemption: bool | None = None  # decided by an exception IT granted
    would: str | None = None  # block | warn: rules in monitor mode would have done this

    def where(self) -> list[Any]:
        conditions: list[Any] = []
        if self.since is not None:
            conditions.append(DecisionRow.created >= self.since)
        if self.until is not None:
            conditions.append(DecisionRow.created < self.until)
        for column, value in ((DecisionRow.decision, self.action), (DecisionRow.user, self.user),
                              (DecisionRow.group, self.group), (DecisionRow.channel, self.channel),
                              (DecisionRow.api_client, self.api_client), (DecisionRow.failure, self.failure),
                              (DecisionRow.would, self.would)):
            if value is not None:
                conditions.append(column == value)
        if self.destination is not None:
            host = self.destination.strip().lower().removeprefix(".")
            conditions.append((DecisionRow.destination_host == host)
                              | DecisionRow.destination_host.endswith("." + host, autoescape=True))
        # JSON columns, as text: portable between SQLite and PostgreSQL (ids are quoted JSON strings)
        if self.rule is not None:
            conditions.append(cast(DecisionRow.rules, String).contains(_json_string(self.rule), autoescape=True))
        if self.data_class is not None:
            conditions.append(cast(DecisionRow.outcome, String).contains(f'"id": {_json_string(self.data_class)}',
                                                                         autoescape=True))
        if self.category is not None:
            conditions.append(cast(DecisionRow.outcome, String).contains(
                f'"category": {_json_string(self.category)}', autoescape=True))
        if self.exemption is not None:
            conditions.append(DecisionRow.exemption_id.is_not(None) if self.exemption
                              else DecisionRow.exemption_id.is_(None))
        if self.justified is not None:
            conditions.append(DecisionRow.justified_by.is_not(None) if self.justified
                              else DecisionRow.justified_by.is_(None))
        return conditions


def _json_string(value: str) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class Page:
    decisions: list[dict[str, Any]]
    next: str | None  # the cursor of the next page; None: this was the last
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # by action
    would: dict[str, int] = field(default_factory=dict)  # by what rules in monitor mode would have done


def explore(store: DecisionStore, where: DecisionFilter, *, evidence: bool, limit: int = 100,
            cursor: str | None = None, count: bool = True) -> Page:
    """A page of decisions, newest first. ``evidence``: with masked findings (reviewers); without, counts only.
    ``cursor``: from the previous page's ``next``."""
    limit = max(1, min(limit, MAX_PAGE))
    conditions = where.where()
    query = select(DecisionRow).where(*conditions).order_by(DecisionRow.created.desc(), DecisionRow.id.desc())
    if cursor:
        created, decision_id = _cursor(cursor)
        query = query.where(*after((created, decision_id)))
    with store.session() as session:
        rows = session.scalars(query.limit(limit + 1)).all()
        taken = _routes_taken(session, [r.id for r in rows[:limit]])
        page = [summary(r, taken.get(r.id, []), evidence) for r in rows[:limit]]
        counts: dict[str, int] = {}
        would: dict[str, int] = {}
        total = None
        if count:
            counted = session.execute(select(DecisionRow.decision, DecisionRow.would, func.count()).where(*conditions)
                                      .group_by(DecisionRow.decision, DecisionRow.would)).all()
            for action, monitored, number in counted:
                counts[action] = counts.get(action, 0) + number
                if monitored:
                    would[monitored] = would.get(monitored, 0) + number
            total = sum(counts.values())
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]
        following = f"{aware(last.created).isoformat()}|{last.id}"
    return Page(page, following, total, counts, would)


def export(store: DecisionStore, where: DecisionFilter, *, evidence: bool) -> Iterator[dict[str, Any]]:
    """Every decision the filter selects, newest first, read in batches (an export streams; memory stays flat)."""
    cursor: str | None = None
    while True:
        page = explore(store, where, evidence=evidence, limit=EXPORT_BATCH, cursor=cursor, count=False)
        yield from page.decisions
        if page.next is None:
            return
        cursor = page.next


def after(cursor: tuple[datetime, str]) -> list[Any]:
    """The decisions after ``cursor`` (a decision's time and reference) in newest-first order. Said so the
    database walks the time index from the cursor down and stops at the page's end (an OR of the two cases would
    make SQLite sort everything older than the cursor, page after page)."""
    created, decision_id = cursor
    return [DecisionRow.created <= created, (DecisionRow.created < created) | (DecisionRow.id < decision_id)]


def _cursor(cursor: str) -> tuple[datetime, str]:
    created, _, decision_id = cursor.partition("|")
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        raise DetourError("the cursor is not one this API gave out; start again without it") from None
    if not decision_id or len(decision_id) > 32:
        raise DetourError("the cursor is not one this API gave out; start again without it")
    return moment, decision_id


def _routes_taken(session: Session, ids: list[str]) -> dict[str, list[str]]:
    taken: dict[str, list[str]] = {}
    if ids:
        for decision_id, alternative in session.execute(
                select(RouteTakenRow.decision_id, RouteTakenRow.alternative_id)
                .where(RouteTakenRow.decision_id.in_(ids)).order_by(RouteTakenRow.id)):
            taken.setdefault(decision_id, []).append(alternative)
    return taken


def summary(row: DecisionRow, taken: list[str], evidence: bool) -> dict[str, Any]:
    """A stored decision for IT: what, who, where to, why, the routes offered and taken. Masked findings
    (examples, places) only with ``evidence``; the data classes' counts always."""
    report = row.report
    destination = report.get("destination", {})
    entry: dict[str, Any] = {
        "decision_id": row.id,
        "time": aware(row.created).isoformat(),
        "action": row.decision,
        "rules": list(row.rules),
        "would": row.would,  # what rules in monitor mode would have done (block | warn), when more than this
        "monitored_rules": [r.get("rule") for r in (row.outcome or {}).get("monitored", [])],
        "data_classes": [{key: d.get(key) for key in ("id", "count", "distinct", "people", "threshold_reached")}
                         for d in report.get("data_classes", [])],
        "destination": {"url": row.destination, "host": row.destination_host,
                        "category": destination.get("category"), "sanctioned": destination.get("sanctioned")},
        "user": row.user,
        "group": row.group,
        "channel": row.channel,
        "api_client": row.api_client,
        "file": row.file_name,
        "size": row.size,
        "sha256": row.sha256,
        "file_type": row.file_type,
        "routes_offered": list(row.alternatives),
        "routes_taken": taken,
        "justified_by": row.justified_by,
        "exception": row.exemption_id,
        "failure": row.failure,
        "partial": bool(report.get("scan", {}).get("partial")),
        "policy": row.policy_digest,
    }
    if evidence:
        entry["findings"] = [{key: f.get(key) for key in ("type", "count", "distinct", "examples", "locations")}
                             for f in report.get("findings", [])]
    return entry


def detail(store: DecisionStore, decision_id: str) -> dict[str, Any] | None:
    """One decision for a reviewer: its summary with masked findings, and what happened since (requests,
    reports, justification, helpdesk messages)."""
    stored = store.get(decision_id)
    if stored is None:
        return None
    with store.session() as session:
        row = session.get(DecisionRow, decision_id)
        assert row is not None
        entry = summary(row, list(stored.history.routes_taken), evidence=True)
    history = stored.history
    entry["reasons"] = [{"rule": r.rule, "action": r.action.value, "data_classes": r.data_classes,
                         "message": r.message} for r in stored.report.reasons]
    entry["reviews"] = reviews(store, decision_id=decision_id)
    entry["reported_wrong"] = history.reported_wrong
    entry["wrong_status"], entry["wrong_answer"] = history.wrong_status, history.wrong_answer
    entry["justification"] = ({"text": history.justification.text,
                               "time": history.justification.created.isoformat(),
                               "expires": history.justification.expires.isoformat()}
                              if history.justification else None)
    entry["tickets"] = [{"id": t.id, "event": t.event, "status": t.status, "remote_id": t.remote_id,
                         "time": t.created.isoformat()} for t in history.tickets]
    return entry


# --- review requests ------------------------------------------------------------------------------------------

REVIEW_STATES = ("open", "approved", "declined")


def reviews(store: DecisionStore, status: str | None = None, limit: int = 100, before: int | None = None,
            decision_id: str | None = None) -> list[dict[str, Any]]:
    """Review requests, newest first, with the decision each is about."""
    query = (select(ReviewRequestRow, DecisionRow.destination_host, DecisionRow.user, DecisionRow.group,
                    DecisionRow.decision, DecisionRow.rules)
             .join(DecisionRow, DecisionRow.id == ReviewRequestRow.decision_id)
             .order_by(ReviewRequestRow.id.desc()).limit(max(1, min(limit, MAX_PAGE))))
    if status is not None:
        query = query.where(ReviewRequestRow.status == status)
    if before is not None:
        query = query.where(ReviewRequestRow.id < before)
    if decision_id is not None:
        query = query.where(ReviewRequestRow.decision_id == decision_id)
    with store.session() as session:
        found = [_review(r, host, user, group, action, rules) for r, host, user, group, action, rules
                 in session.execute(query)]
        attach_comments(session, "review", found)
        return found


def _review(r: ReviewRequestRow, host: str, user: str | None, group: str | None, action: str,
            rules: list[str]) -> dict[str, Any]:
    return {"id": r.id, "decision_id": r.decision_id, "status": r.status, "time": aware(r.created).isoformat(),
            "tool": r.tool, "why": r.why, "needed_by": r.needed_by, "destination_host": host, "user": user,
            "group": group, "decision": action, "rules": list(rules),
            "answered": aware(r.answered).isoformat() if r.answered else None, "answered_by": r.answered_by,
            "answer": r.answer, "assigned_to": r.assigned_to}


MAX_COMMENT_CHARS = 2000


def _queued(session: Session, kind: str, item_id: int) -> ReviewRequestRow | WrongReportRow | None:
    if kind == "review":
        return session.get(ReviewRequestRow, item_id)
    return session.get(WrongReportRow, item_id)


def attach_comments(session: Session, kind: str, entries: list[dict[str, Any]]) -> None:
    """Each queue entry's comments (``comments``: oldest first)."""
    by_id: dict[int, list[dict[str, Any]]] = {entry["id"]: [] for entry in entries}
    if by_id:
        for row in session.scalars(select(QueueCommentRow).where(QueueCommentRow.kind == kind,
                                                                 QueueCommentRow.item_id.in_(list(by_id)))
                                   .order_by(QueueCommentRow.id)):
            by_id[row.item_id].append({"author": row.author, "time": aware(row.created).isoformat(),
                                       "text": row.text})
    for entry in entries:
        entry["comments"] = by_id[entry["id"]]


def assign(store: DecisionStore, kind: str, item_id: int, to: str | None) -> None:
    """Give a review request or report (``kind``) to a reviewer (None: to nobody). ``KeyError``: unknown."""
    with store.session() as session, session.begin():
        row = _queued(session, kind, item_id)
        if row is None:
            raise KeyError(item_id)
        row.assigned_to = to


def comment(store: DecisionStore, kind: str, item_id: int, author: str, text: str) -> dict[str, Any]:
    """Add IT's comment to a review request or report (for IT only). ``KeyError``: unknown."""
    text = visible(text)[:MAX_COMMENT_CHARS]
    if not text:
        raise DetourError("write something")
    with store.session() as session, session.begin():
        if _queued(session, kind, item_id) is None:
            raise KeyError(item_id)
        row = QueueCommentRow(kind=kind, item_id=item_id, created=datetime.now(UTC), author=author, text=text)
        session.add(row)
        return {"author": author, "time": row.created.isoformat(), "text": text}


class ReviewNotOpen(DetourError):
    """The review request was answered already."""


def decline(store: DecisionStore, review_id: int, admin: Admin, reason: str) -> dict[str, Any]:
    """Decline an open review request with a reason (shown to the employee). Raises ``KeyError`` for an
    unknown id, ``ReviewNotOpen`` for one answered already."""
    reason = visible(reason)
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise DetourError(f"give a reason of 1 to {MAX_REASON_CHARS} characters: the employee reads it")
    with store.session() as session, session.begin():
        # the answer claims the request: of two answers at once, one finds it no longer open
        claimed = session.execute(update(ReviewRequestRow)
                                  .where(ReviewRequestRow.id == review_id, ReviewRequestRow.status == "open")
                                  .values(status="declined", answered=datetime.now(UTC), answered_by=admin.name,
                                          answer=reason))
        row = session.get(ReviewRequestRow, review_id)
        if row is None:
            raise KeyError(review_id)
        if getattr(claimed, "rowcount", 0) != 1:
            raise ReviewNotOpen(f"review request {review_id} was {row.status} already")
        session.refresh(row)
        decision = session.get(DecisionRow, row.decision_id)
        assert decision is not None  # a foreign key
        return _review(row, decision.destination_host, decision.user, decision.group, decision.decision,
                       decision.rules)



# --- the dashboard ----------------------------------------------------------------------------------------------

DASHBOARD_ROWS = 50_000  # decisions read for the dashboard's tallies, at most (the newest)
DASHBOARD_SECONDS = 60.0  # the figures are worked out at most this often per period (many people, one query)
_figures: dict[tuple[int, int], tuple[float, dict[str, Any]]] = {}
_figures_lock = threading.Lock()


def dashboard(store: DecisionStore, days: int = 14) -> dict[str, Any]:
    """``figures``, worked out at most once a minute per store and period (a dashboard many people open, or one
    reloaded, costs one query)."""
    key = (id(store), days)
    with _figures_lock:
        cached = _figures.get(key)
        if cached is not None and time.monotonic() - cached[0] < DASHBOARD_SECONDS:
            return cached[1]
        found = figures(store, days)
        _figures[key] = (time.monotonic(), found)
        return found


def figures(store: DecisionStore, days: int = 14) -> dict[str, Any]:
    """The console's figures for the last ``days``: stops per day and action; the top rules, destinations and
    data classes; per route, how often it was offered and opened (did staff take the detour?); how fast review
    requests were answered; what waits; exceptions about to expire."""
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    per_day: dict[str, dict[str, int]] = {}
    rules: dict[str, int] = {}
    hosts: dict[str, int] = {}
    classes: dict[str, int] = {}
    offered: dict[str, int] = {}
    monitored: dict[str, int] = {}  # rules in monitor mode → the decisions they would have made more severe
    with store.session() as session:
        rows = session.execute(select(DecisionRow.id, DecisionRow.created, DecisionRow.decision, DecisionRow.rules,
                                      DecisionRow.destination_host, DecisionRow.alternatives, DecisionRow.outcome,
                                      DecisionRow.would)
                               .where(DecisionRow.created >= since).order_by(DecisionRow.created.desc())
                               .limit(DASHBOARD_ROWS)).all()
        stopped: list[str] = []
        for decision_id, created, action, decided_by, host, alternatives, outcome, would in rows:
            day = aware(created).date().isoformat()
            counts = per_day.setdefault(day, {"allow": 0, "warn": 0, "block": 0, "would_warn": 0, "would_block": 0})
            counts[action] += 1
            if would:  # monitor mode: counted apart, never as a stop
                counts[f"would_{would}"] += 1
                for reason in (outcome or {}).get("monitored", []):
                    monitored[reason["rule"]] = monitored.get(reason["rule"], 0) + 1
            if action == "allow":
                continue
            stopped.append(decision_id)
            for rule in decided_by:
                rules[rule] = rules.get(rule, 0) + 1
            hosts[host] = hosts.get(host, 0) + 1
            for reason in (outcome or {}).get("reasons", []):
                for data_class in reason.get("data_classes", []):
                    classes[data_class] = classes.get(data_class, 0) + 1
            for route in alternatives:
                offered[route] = offered.get(route, 0) + 1
        opened: dict[str, int] = {}
        for start in range(0, len(stopped), 500):
            for route, count in session.execute(
                    select(RouteTakenRow.alternative_id, func.count(func.distinct(RouteTakenRow.decision_id)))
                    .where(RouteTakenRow.decision_id.in_(stopped[start:start + 500]))
                    .group_by(RouteTakenRow.alternative_id)):
                opened[route] = opened.get(route, 0) + count
        answered = session.execute(select(ReviewRequestRow.created, ReviewRequestRow.answered)
                                   .where(ReviewRequestRow.answered.is_not(None),
                                          ReviewRequestRow.answered >= since)).all()
        waiting = session.scalar(select(func.count()).select_from(ReviewRequestRow)
                                 .where(ReviewRequestRow.status == "open")) or 0
        reports_waiting = session.scalar(select(func.count()).select_from(WrongReportRow)
                                         .where(WrongReportRow.status == "open")) or 0
    hours = sorted((aware(done) - aware(asked)).total_seconds() / 3600 for asked, done in answered if done)
    return {
        "days": days,
        "decisions": len(rows),
        "per_day": [{"day": day, **counts} for day, counts in sorted(per_day.items())],
        "would": {"block": sum(d["would_block"] for d in per_day.values()),
                  "warn": sum(d["would_warn"] for d in per_day.values())},
        "top_monitored_rules": _top(monitored),
        "top_rules": _top(rules), "top_destinations": _top(hosts), "top_data_classes": _top(classes),
        "routes": [{"route": route, "offered": count, "opened": opened.get(route, 0),
                    "take_up": round(opened.get(route, 0) / count, 3) if count else 0.0}
                   for route, count in sorted(offered.items(), key=lambda item: -item[1])],
        "reviews_answered": len(hours),
        "answer_hours_median": _quantile(hours, 0.5), "answer_hours_p90": _quantile(hours, 0.9),
        "reviews_open": waiting,
        "reports_open": reports_waiting,
    }


def _top(counts: dict[str, int], n: int = 10) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))[:n]]


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)
