"""The decision store on a real PostgreSQL server (started once per run): migrations, every kind of record,
no raw value in any table, concurrent writers, and `detour serve` end to end with DETOUR_DATABASE_URL."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, create_engine, inspect, text

from gateway.http.app import create_app
from gateway.pipeline import Pipeline
from gateway.records import Envelope
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import DecisionStore
from gateway.store.store import upgrade
from tests.conftest import CORPUS, policies_with_warnings
from tests.factories import AppClient
from tests.files import invoice
from tests.gateway.http.test_admin_api import explorer_holds
from tests.gateway.store.test_store import _cards, _head
from tests.services import start_detour

pytestmark = pytest.mark.slow

TABLES = {"decisions", "routes_taken", "review_requests", "wrong_reports", "justifications", "tickets"}


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh database on the run's server, dropped afterwards."""
    name = f"detour_{secrets.token_hex(6)}"
    server = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def runtime(database: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(policies_dir=policies_with_warnings(tmp_path), hash_key="k" * 32, data_dir=tmp_path / "data",
                        database_url=database)
    built = Runtime.build(settings)
    yield built
    built.close()


@pytest.fixture
def pipeline(runtime: Runtime) -> Pipeline:
    return runtime.pipeline


@pytest.fixture
def store(runtime: Runtime) -> DecisionStore:
    return runtime.store


def _schema(engine: Engine) -> dict[str, object]:
    """Every table's columns (with their types) and indexes, as the database reports them."""
    schema = inspect(engine)
    return {table: ([(c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)],
                    sorted(str(index) for index in schema.get_indexes(table)))
            for table in schema.get_table_names()}


def test_migrations_bring_an_empty_database_to_head_and_run_again_harmlessly(pipeline: Pipeline, store: DecisionStore,
                                                                            database: str) -> None:
    # opening the store migrated the empty database
    report = pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(),
                              Envelope("customers_q3.csv", "wetransfer.com"), "en")
    engine = create_engine(database)
    try:
        before = _schema(engine)
        assert TABLES <= set(before)
        columns = {c["name"]: c for c in inspect(engine).get_columns("decisions")}
        assert str(columns["created"]["type"]) == "TIMESTAMP" and columns["created"]["type"].timezone
        upgrade(engine)  # running the migrations again
        DecisionStore(database).close()  # and a second start: nothing to do, nothing lost
        assert _schema(engine) == before
        with engine.connect() as connection:
            assert connection.execute(text("select version_num from alembic_version")).scalar_one() == _head()
    finally:
        engine.dispose()
    pipeline.recorder.flush()
    stored = store.get(report.decision_id)
    assert stored is not None and stored.report == report


def test_every_kind_of_record_round_trips(pipeline: Pipeline, store: DecisionStore) -> None:
    report = pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(),
                              Envelope("customers_q3.csv", "https://wetransfer.com/x", "anna", "marketing"), "sv")
    pipeline.recorder.flush()
    stored = store.get(report.decision_id)
    assert stored is not None and stored.report == report and stored.history.created.tzinfo is not None
    assert store.get(report.decision_id, "nl").report.language == "nl"  # type: ignore[union-attr]
    store.route_taken(report.decision_id, report.alternatives[0].id)
    store.request_review(report.decision_id, "WeTransfer Pro", "videos for the agency", "Friday")
    store.report_wrong(report.decision_id, "test accounts")
    ticket = store.add_ticket(report.decision_id, "ticket", {"reference": report.decision_id})
    assert store.due_tickets() == []  # its submitter holds it while it tries
    with store.engine.begin() as connection:  # the submitter died: its lease runs out
        connection.execute(text("update tickets set next_attempt = now() - interval '1 second'"))
    claimed = store.due_tickets()
    assert [t.id for t in claimed] == [ticket] and claimed[0].payload == {"reference": report.decision_id}
    assert store.due_tickets() == []  # claimed once: another Detour on the same database does not get it
    store.ticket_attempted(ticket, sent=True, remote_id="INC0042")
    pipeline.recorder.flush()
    stored = store.get(report.decision_id)
    assert stored is not None
    history = stored.history
    assert history.routes_taken == (report.alternatives[0].id,) and history.reported_wrong
    assert [(r.tool, r.status) for r in history.reviews] == [("WeTransfer Pro", "open")]
    assert [(t.status, t.remote_id) for t in history.tickets] == [("sent", "INC0042")] and not store.due_tickets()


def test_justifications_match_file_site_and_person_until_they_expire(pipeline: Pipeline, store: DecisionStore) -> None:
    request = Envelope("invoice.txt", "https://wetransfer.com/upload", "bert", client_ip="10.0.0.9")
    warned = pipeline.inspect(invoice(2024), request, "en")
    assert warned.decision.value == "warn" and warned.justified_by is None
    pipeline.recorder.flush()
    justification = store.justify(warned.decision_id, "Supplier invoice for Finance.", 30)
    assert justification.expires.tzinfo is not None
    assert pipeline.inspect(invoice(2024), request, "en").justified_by == warned.decision_id
    assert store.justified(warned.sha256, "wetransfer.com", "the keyed hash of someone else") is None
    with store.engine.begin() as connection:  # half an hour later
        connection.execute(text("update justifications set expires = now() - interval '1 second'"))
    assert pipeline.inspect(invoice(2024), request, "en").justified_by is None


def test_no_table_holds_a_raw_value(pipeline: Pipeline, store: DecisionStore, database: str) -> None:
    for name in ("customers_q3.csv", "refunds.docx"):
        report = pipeline.inspect((CORPUS / name).read_bytes(), Envelope(name, "wetransfer.com"), "en")
        assert report.decision.value == "block"
        pipeline.recorder.flush()
        store.add_ticket(report.decision_id, "ticket", {"findings": [f.model_dump() for f in report.findings]})
    dump: list[str] = []
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        tables = [row[0] for row in connection.execute("select tablename from pg_tables where schemaname = 'public'")]
        assert TABLES <= set(tables)  # every table, including any a later migration adds
        for table in tables:
            dump.extend(row[0] for row in connection.execute(
                sql.SQL("select row_to_json(t)::text from {} t").format(sql.Identifier(table))))
    everything = "\n".join(dump)
    assert "customers_q3.csv" in everything and '"examples"' in everything  # the dump holds the records
    raw = (CORPUS / "customers_q3.csv").read_text()
    emails = [cell for line in raw.splitlines()[1:] for cell in line.split(",") if "@" in cell]
    assert emails and not any(email in everything for email in emails)
    cards = _cards()
    assert cards and not any(card in everything for card in cards)


def test_concurrent_writers_all_land(pipeline: Pipeline, database: str) -> None:
    blob = (CORPUS / "products.csv").read_bytes()[:20_000]
    ids: list[str] = []
    lock = threading.Lock()

    def upload(worker: int) -> None:
        for n in range(4):
            report = pipeline.inspect(blob, Envelope(f"p{worker}-{n}.csv", "wetransfer.com"), "en")
            with lock:
                ids.append(report.decision_id)

    threads = [threading.Thread(target=upload, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline.recorder.flush()
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        stored = {row[0] for row in connection.execute("select id from decisions")}
    assert len(ids) == 32 and stored == set(ids)


def test_detour_serve_on_postgresql(database: str, tmp_path: Path) -> None:
    for service in start_detour(tmp_path, {"DETOUR_DATABASE_URL": database}):
        with (CORPUS / "customers_q3.csv").open("rb") as fh:
            report = httpx.post(f"{service.http}/v1/inspect", files={"file": ("customers_q3.csv", fh)},
                                data={"destination": "wetransfer.com"},
                                headers={"Accept-Language": "nl", **service.auth}, timeout=60).json()
        decision = report["decision_id"]
        page = httpx.get(f"{service.http}/d/{decision}", timeout=10)
        assert page.status_code == 200 and "Sorry, deze upload is tegengehouden" in page.text
        offer = report["alternatives"][0]
        go = httpx.get(f"{service.http}/d/{decision}/go/{offer['id']}", timeout=10)
        assert go.status_code == 303 and go.headers["location"] == offer["url"]
    assert not (tmp_path / "data" / "detour.db").exists()  # nothing went to SQLite
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        taken = connection.execute("select alternative_id from routes_taken where decision_id = %s",
                                   (decision,)).fetchall()
        row = connection.execute("select report from decisions where id = %s", (decision,)).fetchone()
    assert taken == [(offer["id"],)]
    assert row is not None and row[0]["decision"] == "block" and row[0]["decision_id"] == decision


def test_two_detours_on_one_database_never_claim_the_same_ticket(pipeline: Pipeline, store: DecisionStore) -> None:
    report = pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(), Envelope("c.csv", "wetransfer.com"),
                              "en")
    pipeline.recorder.flush()
    tickets = {store.add_ticket(report.decision_id, "ticket", {"n": n}) for n in range(40)}
    with store.engine.begin() as connection:  # all due
        connection.execute(text("update tickets set next_attempt = now() - interval '1 second'"))
    other = DecisionStore(str(store.engine.url.render_as_string(hide_password=False)))  # a second replica
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(2)

    def claim(name: str, replica: DecisionStore) -> None:
        start.wait()
        claims[name] = [t.id for batch in iter(lambda: replica.due_tickets(limit=5), []) for t in batch]

    threads = [threading.Thread(target=claim, args=("a", store)), threading.Thread(target=claim, args=("b", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert not set(claims["a"]) & set(claims["b"]) and set(claims["a"]) | set(claims["b"]) == tickets


def test_a_postgresql_outage_under_load_loses_no_decision(runtime: Runtime, database: str,
                                                          postgres_url: str) -> None:
    """The database refuses connections for 15 s while four clients upload: every decision
    answered meanwhile waits in the spool and reaches PostgreSQL afterwards, once; an API client whose
    token was read before the outage is served during it."""
    name = database.rsplit("/", 1)[1]
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    answered: list[str] = []
    lock = threading.Lock()
    outage_over = threading.Event()

    def upload(worker: int) -> None:
        n = 0
        while not outage_over.is_set() or n < 10:
            blob = (CORPUS / ("customers_q3.csv" if n % 2 else "products.csv")).read_bytes()
            report = runtime.pipeline.inspect(blob, Envelope(f"w{worker}-{n}.csv", "wetransfer.com"))
            with lock:
                answered.append(report.decision_id)
            n += 1

    api = AppClient.with_token(create_app(runtime.settings, runtime), may_assert_user=False)
    before = api.post("/v1/inspect", content=b"notes", params={"filename": "n.txt", "destination": "wetransfer.com"})
    assert before.status_code == 200  # the client is in use before the outage
    answered.append(before.json()["decision_id"])
    threads = [threading.Thread(target=upload, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    degraded = False
    for _ in range(150):  # fifteen seconds and more of outage, under load
        degraded = degraded or runtime.recorder.health().state == "degraded"
        time.sleep(0.1)
    runtime.clients.refresh()  # it can't read the clients now: the ones it read before still count
    during = api.post("/v1/inspect", content=(CORPUS / "customers_q3.csv").read_bytes(),
                      params={"filename": "api.csv", "destination": "wetransfer.com"})
    assert during.status_code == 200 and during.json()["decision"] == "block"
    answered.append(during.json()["decision_id"])
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
    outage_over.set()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 60
    while runtime.recorder.health().state != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runtime.recorder.flush(30) and runtime.recorder.health().state == "ok"
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        stored = [row[0] for row in connection.execute("select id from decisions")]
    assert degraded, "the outage did not reach the recorder"
    assert len(stored) == len(set(stored)) == len(answered) and set(stored) == set(answered)


def test_the_admin_explorer_on_postgresql(runtime: Runtime) -> None:
    """The explorer's filters, counts, pages and exports on decisions stored in PostgreSQL (JSON columns there
    are another type than in SQLite): the same checks as on SQLite."""
    explorer_holds(create_app(runtime.settings, runtime))


def test_replicas_starting_together_on_an_empty_database_all_start(postgres_url: str) -> None:
    """Three replicas opening the store of an empty database at once: one migrates, the others wait for it
    (an advisory lock) instead of failing on tables made meanwhile."""
    name = f"detour_{secrets.token_hex(6)}"
    server = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    problems: list[BaseException] = []
    opened: list[DecisionStore] = []
    start = threading.Barrier(3)

    def open_store() -> None:
        start.wait()
        try:
            opened.append(DecisionStore(url))
        except BaseException as problem:  # noqa: BLE001 - what a replica would crash on
            problems.append(problem)

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert problems == [] and len(opened) == 3
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            version = connection.execute("select version_num from alembic_version").fetchall()
        assert len(version) == 1
    finally:
        for store in opened:
            store.close()
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
