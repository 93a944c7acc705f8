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

from sqlalchemy import select

from gateway.errors import DetourError
from gateway.records import Action, Exemption
from gateway.store.models import DecisionRow, ExemptionRow, ReviewRequestRow
from gateway.store.store import DecisionStore

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
MAX_NOTE_CHARS = 1000


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _exemption(row: ExemptionRow) -> Exemption:
    return Exemption(row.id, row.destination_host, row.user, row.group, tuple(row.data_classes), Action(row.action),
                     _aware(row.expires), row.note)


def listing(row: ExemptionRow) -> dict[str, Any]:
    return {"id": row.id, "destination_host": row.destination_host, "user": row.user, "group": row.group,
            "everyone": row.user is None and row.group is None, "data_classes": list(row.data_classes),
            "action": row.action, "expires": _aware(row.expires).isoformat(), "note": row.note,
            "created": _aware(row.created).isoformat(), "created_by": row.created_by, "review_id": row.review_id,
            "decision_id": row.decision_id,
            "revoked": _aware(row.revoked).isoformat() if row.revoked else None, "revoked_by": row.revoked_by}


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
                    self._copy = tuple(_exemption(row) for row in rows)
            except Exception:
                log.warning("the exceptions in force can't be read from the store; the last copy applies",
                            exc_info=True)
                self._copy = self._copy or ()
            self._read_at = time.monotonic()

    def approve(self, review_id: int, by: str, *, user: str | None, group: str | None, expires: datetime,
                action: Action = Action.ALLOW, data_classes: list[str] | None = None, note: str = "",
                ) -> dict[str, Any]:
        """Approve an open review request: an exception for its destination host, for ``user``, ``group`` or
        everyone (both None), for ``data_classes`` (None: those that stopped the upload; []: any), until
        ``expires``. Raises ``KeyError`` for an unknown request, ``DetourError`` for one answered already."""
        if action not in (Action.ALLOW, Action.WARN):
            raise DetourError("an exception allows or warns")
        note = " ".join(note.split())[:MAX_NOTE_CHARS]
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            review = session.get(ReviewRequestRow, review_id)
            if review is None:
                raise KeyError(review_id)
            if review.status != "open":
                raise DetourError(f"review request {review_id} was {review.status} already")
            decision = session.get(DecisionRow, review.decision_id)
            assert decision is not None  # a foreign key
            if not decision.destination_host:
                raise DetourError("the decision names no destination host to make an exception for")
            if data_classes is None:
                reasons = (decision.outcome or {}).get("reasons", [])
                data_classes = list(dict.fromkeys(c for r in reasons if r.get("action") != "allow"
                                                  for c in r.get("data_classes", [])))
            row = ExemptionRow(created=now, created_by=by, destination_host=decision.destination_host, user=user,
                               group=group, data_classes=data_classes, action=action.value, expires=expires,
                               note=note, review_id=review_id, decision_id=decision.id)
            session.add(row)
            session.flush()
            review.status, review.answered, review.answered_by = "approved", now, by
            review.answer, review.exemption_id = note or None, row.id
            granted = listing(row)
        self._read_at = -REFRESH_SECONDS  # this replica applies it at once
        return granted

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
