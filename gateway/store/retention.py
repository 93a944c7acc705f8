"""Retention: decisions older than ``DETOUR_RETENTION_DAYS`` (default 180) are purged from the store, with what
hangs on them: route clicks, review requests and "looks wrong" reports (and IT's comments on them),
justifications and helpdesk messages. Exceptions IT granted stay until they end (they have their own expiry);
policy versions and the record of admin actions stay.

``detour serve`` purges once an hour (``PURGE_SECONDS``); ``detour purge`` does it now. Deletes go in batches of
``BATCH`` decisions, each its own transaction, so the store stays writable while a large backlog goes: a
replica that purges at the same time deletes nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select

from gateway.store.models import (
    DecisionRow,
    JustificationRow,
    QueueCommentRow,
    ReviewRequestRow,
    RouteTakenRow,
    TicketRow,
    WrongReportRow,
)
from gateway.store.store import DecisionStore

log = logging.getLogger(__name__)

BATCH = 1_000  # decisions deleted per transaction
PURGE_SECONDS = 3600.0  # how often `detour serve` purges


@dataclass(frozen=True)
class Purged:
    before: datetime  # decisions made before this were purged
    decisions: int


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def due(store: DecisionStore, days: int) -> int:
    """How many decisions a purge would remove now."""
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(DecisionRow)
                              .where(DecisionRow.created < cutoff(days))) or 0


def purge(store: DecisionStore, days: int, now: datetime | None = None) -> Purged:
    """Remove the decisions made more than ``days`` ago, and what hangs on them."""
    before = cutoff(days, now)
    total = 0
    while True:
        with store.session() as session, session.begin():
            ids = list(session.scalars(select(DecisionRow.id).where(DecisionRow.created < before)
                                       .order_by(DecisionRow.created).limit(BATCH)))
            if not ids:
                break
            for kind, table in (("review", ReviewRequestRow), ("report", WrongReportRow)):
                items = select(table.id).where(table.decision_id.in_(ids))
                session.execute(delete(QueueCommentRow).where(QueueCommentRow.kind == kind,
                                                              QueueCommentRow.item_id.in_(items)))
            for child in (RouteTakenRow, ReviewRequestRow, WrongReportRow, JustificationRow, TicketRow):
                session.execute(delete(child).where(child.decision_id.in_(ids)))
            gone = cast(CursorResult[Any], session.execute(delete(DecisionRow).where(DecisionRow.id.in_(ids))))
            total += gone.rowcount or 0
    if total:
        log.info("retention: %d decisions made before %s purged (with their requests, reports, route clicks "
                    "and helpdesk messages)", total, before.isoformat(timespec="seconds"))
    return Purged(before, total)
