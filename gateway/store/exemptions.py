"""Exceptions IT grants, kept in the decision store so that every replica applies them.

The exceptions in force are read from the store into memory and read again when the copy is older than
``REFRESH_SECONDS`` (at once on the replica that granted or revoked one): a new exception applies to new
uploads everywhere within that time, and checking an upload costs no query. An exception that expires
stops applying by itself (the copy is filtered by the clock on every use). While the store can't be read
the last copy is used.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from gateway.errors import DetourError
from gateway.records import Action, Exemption
from gateway.store.admin import attach_comments, visible
from gateway.store.models import DecisionRow, ExemptionRow, ReviewRequestRow, WrongReportRow
from gateway.store.store import DecisionStore, aware

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
MAX_NOTE_CHARS = 1000


def _exemptible(host: str) -> None:
    """Raise ``DetourError`` for a destination no exception may name: none, or Detour's stand-in for an
    upload that named none (every such upload would get it)."""
    if not host or host.endswith(".invalid"):
        raise DetourError("the decision names no real destination host to make an exception for")



def exemption_of(row: ExemptionRow) -> Exemption:
    return Exemption(row.id, row.destination_host, row.user, row.group, tuple(row.data_classes), Action(row.action),
                     aware(row.expires), row.note, row.sha256, bool(row.subdomains))


def listing(row: ExemptionRow) -> dict[str, Any]:
    return {"id": row.id, "destination_host": row.destination_host, "user": row.user, "group": row.group,
            "everyone": row.user is None and row.group is None, "data_classes": list(row.data_classes),
            "action": row.action, "expires": aware(row.expires).isoformat(), "note": row.note,
            "sha256": row.sha256, "subdomains": bool(row.subdomains),
            "created": aware(row.created).isoformat(), "created_by": row.created_by, "review_id": row.review_id,
            "decision_id": row.decision_id,
            "revoked": aware(row.revoked).isoformat() if row.revoked else None, "revoked_by": row.revoked_by}


def wrong_listing(report: WrongReportRow, decision: DecisionRow) -> dict[str, Any]:
    return {"id": report.id, "decision_id": report.decision_id, "status": report.status,
            "time": aware(report.created).isoformat(), "believed": report.believed,
            "destination_host": decision.destination_host, "user": decision.user, "group": decision.group,
            "decision": decision.decision, "rules": list(decision.rules), "file": decision.file_name,
            "answered": aware(report.answered).isoformat() if report.answered else None,
            "answered_by": report.answered_by, "answer": report.answer, "exception": report.exemption_id,
            "assigned_to": report.assigned_to}


def wrong_reports(store: DecisionStore, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """"Looks wrong" reports, newest first, with the decision each is about."""
    query = (select(WrongReportRow, DecisionRow).join(DecisionRow, DecisionRow.id == WrongReportRow.decision_id)
             .order_by(WrongReportRow.id.desc()).limit(max(1, min(limit, 500))))
    if status is not None:
        query = query.where(WrongReportRow.status == status)
    with store.session() as session:
        found = [wrong_listing(report, decision) for report, decision in session.execute(query)]
        attach_comments(session, "report", found)
        return found


class Exemptions:
    def __init__(self, store: DecisionStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._copy: tuple[Exemption, ...] | None = None
        self._read_at = 0.0

    def __call__(self) -> tuple[Exemption, ...]:
        """The exceptions in force now."""
        if self._copy is None or time.monotonic() - self._read_at >= REFRESH_SECONDS:
            self.refresh()
        now = datetime.now(UTC)
        return tuple(e for e in self._copy or () if e.expires > now)

    def refresh(self) -> None:
        with self._lock:
            try:
                with self.store.session() as session:
                    rows = session.scalars(select(ExemptionRow).where(ExemptionRow.revoked.is_(None),
                                                                      ExemptionRow.expires > datetime.now(UTC)))
                    self._copy = tuple(exemption_of(row) for row in rows)
            except Exception:
                log.warning("the exceptions in force can't be read from the store; the last copy applies",
                            exc_info=True)
                self._copy = self._copy or ()
            self._read_at = time.monotonic()

    def approve(self, review_id: int, by: str, *, user: str | None, group: str | None, expires: datetime,
                action: Action = Action.ALLOW, data_classes: list[str] | None = None, note: str = "",
                subdomains: bool = False) -> dict[str, Any]:
        """Approve an open review request: an exception for its destination host, for ``user``, ``group`` or
        everyone (both None), for ``data_classes`` (None: those that stopped the upload; []: any), until
        ``expires``. Raises ``KeyError`` for an unknown request, ``DetourError`` for one answered already."""
        if action not in (Action.ALLOW, Action.WARN):
            raise DetourError("an exception allows or warns")
        note = visible(note)[:MAX_NOTE_CHARS]
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            review = session.get(ReviewRequestRow, review_id)
            if review is None:
                raise KeyError(review_id)
            decision = session.get(DecisionRow, review.decision_id)
            assert decision is not None  # a foreign key
            _exemptible(decision.destination_host)
            if data_classes is None:
                reasons = (decision.outcome or {}).get("reasons", [])
                data_classes = list(dict.fromkeys(c for r in reasons if r.get("action") != "allow"
                                                  for c in r.get("data_classes", [])))
                if not data_classes:  # never "any" by default
                    raise DetourError("no data class stopped this upload (it may have been decided because it "
                                      "could not be checked): name the data classes the exception covers")
            # the answer claims the request: of two answers at once, one finds it no longer open
            claimed = session.execute(update(ReviewRequestRow)
                                      .where(ReviewRequestRow.id == review_id, ReviewRequestRow.status == "open")
                                      .values(status="approved", answered=now, answered_by=by, answer=note or None))
            if getattr(claimed, "rowcount", 0) != 1:
                raise DetourError(f"review request {review_id} was answered already")
            row = ExemptionRow(created=now, created_by=by, destination_host=decision.destination_host, user=user,
                               group=group, data_classes=data_classes, action=action.value, expires=expires,
                               note=note, review_id=review_id, decision_id=decision.id, subdomains=subdomains)
            session.add(row)
            session.flush()
            session.execute(update(ReviewRequestRow).where(ReviewRequestRow.id == review_id)
                            .values(exemption_id=row.id))
            granted = listing(row)
        self._read_at = -REFRESH_SECONDS  # this replica applies it at once
        return granted

    def answer_report(self, report_id: int, by: str, *, confirmed: bool, note: str,
                      exempt_until: datetime | None = None) -> dict[str, Any]:
        """IT's verdict on a "looks wrong" report: ``confirmed`` (a false positive) or not, with ``note`` (shown
        to the person). A confirmed one may get a narrow exception: this file (its SHA-256) to this host, from
        anyone, until ``exempt_until``, whatever it holds; the detectors stay as they are. Raises ``KeyError``
        for an unknown report, ``DetourError`` for one answered already."""
        note = visible(note)[:MAX_NOTE_CHARS]
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            report = session.get(WrongReportRow, report_id)
            if report is None:
                raise KeyError(report_id)
            decision = session.get(DecisionRow, report.decision_id)
            assert decision is not None  # a foreign key
            if confirmed and exempt_until is not None:
                _exemptible(decision.destination_host)
            claimed = session.execute(update(WrongReportRow)
                                      .where(WrongReportRow.id == report_id, WrongReportRow.status == "open")
                                      .values(status="confirmed" if confirmed else "rejected", answered=now,
                                              answered_by=by, answer=note or None))
            if getattr(claimed, "rowcount", 0) != 1:
                raise DetourError(f"report {report_id} was answered already")
            session.refresh(report)
            exemption = None
            if confirmed and exempt_until is not None:
                exemption = ExemptionRow(created=now, created_by=by, destination_host=decision.destination_host,
                                         user=None, group=None, data_classes=[], action=Action.ALLOW.value,
                                         expires=exempt_until, note=note, sha256=decision.sha256,
                                         decision_id=decision.id)
                session.add(exemption)
                session.flush()
            report.exemption_id = exemption.id if exemption is not None else None
            answered = wrong_listing(report, decision)
            answered["exception"] = listing(exemption) if exemption is not None else None
        if exemption is not None:
            self._read_at = -REFRESH_SECONDS
        return answered

    def extend(self, exemption_id: int, expires: datetime) -> dict[str, Any]:
        """Give an exception in force a new end. Raises ``KeyError`` for an unknown one, ``DetourError`` for one
        revoked or already ended (grant a new one instead)."""
        with self.store.session() as session, session.begin():
            row = session.get(ExemptionRow, exemption_id)
            if row is None:
                raise KeyError(exemption_id)
            if row.revoked is not None or aware(row.expires) <= datetime.now(UTC):
                raise DetourError(f"exception {exemption_id} has ended; approve a new request instead")
            row.expires = expires
            extended = listing(row)
        self._read_at = -REFRESH_SECONDS
        return extended

    def revoke(self, exemption_id: int, by: str) -> dict[str, Any]:
        """Stop an exception from applying (at once here, within ``REFRESH_SECONDS`` everywhere)."""
        with self.store.session() as session, session.begin():
            row = session.get(ExemptionRow, exemption_id)
            if row is None:
                raise KeyError(exemption_id)
            if row.revoked is None:
                row.revoked, row.revoked_by = datetime.now(UTC), by
            revoked = listing(row)
        self._read_at = -REFRESH_SECONDS
        return revoked

    def all(self, include_ended: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        """Exceptions, newest first: those in force, or with ``include_ended`` also expired and revoked ones."""
        query = select(ExemptionRow).order_by(ExemptionRow.id.desc()).limit(limit)
        if not include_ended:
            query = query.where(ExemptionRow.revoked.is_(None), ExemptionRow.expires > datetime.now(UTC))
        with self.store.session() as session:
            return [listing(row) for row in session.scalars(query)]
