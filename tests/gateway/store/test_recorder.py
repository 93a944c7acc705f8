"""No decision lost: while the store can't be written, decisions wait in the spool and reach the store after,
in order and once; the answer never waits for the store; /readyz says so; pages of waiting decisions work."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.http.app import create_app
from gateway.records import Envelope
from gateway.render.report import Report
from gateway.runtime import Runtime
from gateway.store.models import DecisionRow
from tests.conftest import CORPUS
from tests.factories import AppClient

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
PRODUCTS = (CORPUS / "products.csv").read_bytes()


@contextmanager
def locked(database: Path) -> Iterator[None]:
    """Another program holds the SQLite database in an exclusive transaction: nobody else can write."""
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def stored_ids(runtime: Runtime) -> list[str]:
    with runtime.store.session() as session:
        return list(session.scalars(session.query(DecisionRow.id).statement))


def test_a_store_outage_under_load_loses_no_decision(make_runtime: Callable[..., Runtime], tmp_path: Path) -> None:
    runtime = make_runtime(data_dir=tmp_path)
    client = AppClient(create_app(runtime.settings, runtime))
    answered: list[str] = []
    during: list[str] = []
    blocked: list[Report] = []
    lock = threading.Lock()

    def upload(worker: int, count: int, into: list[str]) -> None:
        for n in range(count):
            blob = CONTACTS if (worker + n) % 2 else PRODUCTS
            report = runtime.pipeline.inspect(blob, Envelope(f"w{worker}-{n}.csv", "wetransfer.com"))
            with lock:
                into.append(report.decision_id)
                if report.decision == "block":
                    blocked.append(report)

    with locked(tmp_path / "detour.db"):
        threads = [threading.Thread(target=upload, args=(w, 15, during)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert runtime.recorder.flush(30)  # every decision is in the spool by now
        health = runtime.recorder.health()
        assert health.state == "degraded" and health.spooled == len(during) and health.error
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded" and ready["store"]["spooled"] == len(during)
        stopped = blocked[0]  # the person's page meanwhile: the decision, its routes, and a word about the rest
        page = client.get(f"/d/{stopped.decision_id}", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "still being recorded" in page.text and "<form" not in page.text
        route = stopped.alternatives[0]
        went = client.get(f"/d/{stopped.decision_id}/go/{route.id}", follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"] == route.url
    answered.extend(during)
    upload(9, 5, answered)  # the store is back: newer decisions wait behind the spool, then all land
    deadline = time.monotonic() + 30
    while runtime.recorder.health().state != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime.recorder.flush(30) and runtime.recorder.health().state == "ok"
    stored = stored_ids(runtime)
    assert sorted(stored) == sorted(answered) and len(stored) == len(set(stored)) == 65
    assert client.get("/readyz").json()["status"] == "ready"
    assert "still being recorded" not in client.get(f"/d/{blocked[0].decision_id}").text


def test_spooled_decisions_survive_a_restart_and_are_written_once(make_runtime: Callable[..., Runtime],
                                                                  tmp_path: Path) -> None:
    first = make_runtime(data_dir=tmp_path)
    with locked(tmp_path / "detour.db"):
        ids = [first.pipeline.inspect(PRODUCTS, Envelope(f"p{n}.csv", "wetransfer.com")).decision_id
               for n in range(5)]
        first.close()  # shutting down while the store is locked: the queue goes to the spool on disk
    assert len(first.recorder.spool) == 5 and not stored_ids(first)
    # a crash after a replay wrote some of them but before it cleared the spool: they are there already
    first.store.insert([row for chunk in first.recorder.spool.chunks() for row in chunk][:2])
    second = make_runtime(data_dir=tmp_path)  # the next start replays the spool
    deadline = time.monotonic() + 30
    while len(second.recorder.spool) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(stored_ids(second)) == sorted(ids)


def test_the_answer_does_not_wait_for_a_locked_store(make_runtime: Callable[..., Runtime], tmp_path: Path) -> None:
    runtime = make_runtime(data_dir=tmp_path)
    runtime.pipeline.inspect(PRODUCTS, Envelope("warm.csv", "wetransfer.com"))
    with locked(tmp_path / "detour.db"):
        reports = [runtime.pipeline.inspect(PRODUCTS, Envelope(f"p{n}.csv", "wetransfer.com")) for n in range(20)]
        assert all(r.decision == "allow" for r in reports)
    assert runtime.recorder.flush(30)
    deadline = time.monotonic() + 30
    while len(runtime.recorder.spool) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert {r.decision_id for r in reports} <= set(stored_ids(runtime))
