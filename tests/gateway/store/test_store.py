"""The decision store: every decision recorded with who, what, where and why, masked; migrations that
run again harmlessly. (PostgreSQL: tests/e2e/test_store_postgres.py.)"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import docx

from gateway.records import Envelope
from gateway.render.report import Report
from gateway.runtime import Runtime
from gateway.store import DecisionStore
from gateway.store.models import DecisionRow
from gateway.store.store import sqlite_url
from tests.conftest import CORPUS


def blocked(runtime: Runtime, name: str = "customers_q3.csv") -> Report:
    report = runtime.pipeline.inspect((CORPUS / name).read_bytes(), Envelope(name, "wetransfer.com"), "nl")
    assert report.decision == "block"
    return report


def test_every_decision_is_stored_with_who_what_where_and_why(runtime: Runtime) -> None:
    report = blocked(runtime).model_dump(mode="json")
    stored = runtime.find(report["decision_id"])
    assert stored is not None and stored.report.decision.value == "block"
    runtime.recorder.flush()  # written off the answer's path: wait for the writer
    with runtime.store.session() as session:
        row = session.get(DecisionRow, report["decision_id"])
        assert row is not None
        assert (row.file_name, row.destination_host, row.decision) == ("customers_q3.csv", "wetransfer.com", "block")
        assert row.rules == ["block-contact-lists-external"] and row.alternatives == [a["id"] for a in
                                                                                       report["alternatives"]]
        assert row.sha256 == report["sha256"] and row.size > 0 and row.file_type == "text/csv"


def test_the_store_never_holds_a_raw_value(runtime: Runtime) -> None:
    blocked(runtime, "customers_q3.csv")
    blocked(runtime, "refunds.docx")
    runtime.recorder.flush()
    database = runtime.settings.data_dir / "detour.db"
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    text = (CORPUS / "customers_q3.csv").read_text()
    emails = [cell for line in text.splitlines()[1:] for cell in line.split(",") if "@" in cell]
    assert emails and not any(email in dump for email in emails)
    cards = _cards()
    assert cards and not any(card in dump for card in cards)


def _cards() -> list[str]:
    document = docx.Document(str(CORPUS / "refunds.docx"))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return [c for c in cells if re.fullmatch(r"\d{15,16}", c)]


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.store.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    DecisionStore(url).close()
    store = DecisionStore(url)  # a second start upgrades nothing and loses nothing
    with sqlite3.connect(tmp_path / "detour.db") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
        assert connection.execute("select version_num from alembic_version").fetchone() == (_head(),)
        assert connection.execute("pragma journal_mode").fetchone() == ("wal",)
    assert {"decisions", "routes_taken", "review_requests", "wrong_reports", "justifications", "tickets"} <= tables
    store.close()


