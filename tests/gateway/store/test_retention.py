"""Retention: decisions past the period go, with their requests, reports, comments, route clicks,
justifications and helpdesk messages; recent ones and exceptions stay. By the service, hourly, and on demand."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from gateway.http.app import create_app
from gateway.records import Envelope
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import admin as store_admin
from gateway.store import retention
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
from tests.conftest import CORPUS

DETOUR = str(Path(sys.executable).parent / "detour")
CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


def _decisions_with_everything(runtime: Runtime, count: int) -> list[str]:
    ids = []
    for n in range(count):
        report = runtime.pipeline.inspect(CONTACTS, Envelope("c.csv", "wetransfer.com", user=f"u{n}"), "en")
        ids.append(report.decision_id)
    assert runtime.recorder.flush()
    store = runtime.store
    for decision_id in ids:
        store.route_taken(decision_id, "partner-sharepoint")
        store.request_review(decision_id, "WeTransfer", "sharing with a consultant", "Friday")
        store.report_wrong(decision_id, "test people")
        store.justify(decision_id, "agreed with the customer", 60)
        store.add_ticket(decision_id, "review_requested", {"reference": decision_id})
        with store.session() as session:
            review = session.scalar(select(ReviewRequestRow.id).where(ReviewRequestRow.decision_id == decision_id))
            report = session.scalar(select(WrongReportRow.id).where(WrongReportRow.decision_id == decision_id))
        store_admin.comment(store, "review", review, "ida", "asked the team")
        store_admin.comment(store, "report", report, "ida", "looking")
    return ids


def _age(store: DecisionStore, ids: list[str], days: int) -> None:
    with store.session() as session, session.begin():
        session.execute(update(DecisionRow).where(DecisionRow.id.in_(ids))
                        .values(created=datetime.now(UTC) - timedelta(days=days)))


def _count(store: DecisionStore, table: type, ids: list[str]) -> int:
    with store.session() as session:
        if table is QueueCommentRow:
            return session.scalar(select(func.count()).select_from(QueueCommentRow)) or 0
        column = DecisionRow.id if table is DecisionRow else table.decision_id
        return session.scalar(select(func.count()).select_from(table).where(column.in_(ids))) or 0


def test_old_decisions_go_with_everything_that_hangs_on_them(settings: Settings, tmp_path: Path) -> None:
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data"}))
    try:
        old, recent = _decisions_with_everything(runtime, 3), _decisions_with_everything(runtime, 2)
        _age(runtime.store, old, 181)
        assert retention.due(runtime.store, 180) == 3
        purged = retention.purge(runtime.store, 180)
        assert purged.decisions == 3
        for table in (DecisionRow, RouteTakenRow, ReviewRequestRow, WrongReportRow, JustificationRow, TicketRow):
            assert _count(runtime.store, table, old) == 0 and _count(runtime.store, table, recent) == 2, table
        assert _count(runtime.store, QueueCommentRow, []) == 4  # the recent decisions' two comments each
        assert retention.purge(runtime.store, 180).decisions == 0  # nothing left to do
    finally:
        runtime.close()


def test_the_service_purges_by_itself_and_detour_purge_on_demand(settings: Settings, tmp_path: Path) -> None:
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data", "retention_days": 30}))
    try:
        ids = _decisions_with_everything(runtime, 4)
        _age(runtime.store, ids[:2], 31)
        app = create_app(runtime.settings, runtime)

        async def serve_a_while() -> None:  # the app's lifespan, as uvicorn runs it: starting purges at once
            async with app.router.lifespan_context(app):
                for _ in range(100):
                    await asyncio.sleep(0.1)
                    if _count(runtime.store, DecisionRow, ids) == 2:
                        return

        asyncio.run(serve_a_while())
        assert _count(runtime.store, DecisionRow, ids) == 2
        _age(runtime.store, ids[2:], 10)
    finally:
        runtime.close()
    env = {**os.environ, "DETOUR_DATA_DIR": str(tmp_path / "data")}
    dry = subprocess.run([DETOUR, "purge", "--days", "5", "--dry-run"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert dry.returncode == 0 and dry.stdout.startswith("2 decisions made before"), dry.stdout + dry.stderr
    done = subprocess.run([DETOUR, "purge", "--days", "5"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("2 decisions made before"), done.stdout + done.stderr
    store = DecisionStore(f"sqlite:///{tmp_path / 'data' / 'detour.db'}")
    try:
        assert _count(store, DecisionRow, ids) == 0
    finally:
        store.close()
