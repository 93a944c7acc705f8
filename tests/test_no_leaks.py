"""Never leak what we protect: no raw matched value in responses, text output, audit records, logs, the
decision store (every table, the evidence kept for deciding again included), the decision page (in every
language) or the helpdesk webhook's message."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.records import Envelope
from gateway.render.pages import PageOptions, render_block_page
from gateway.render.text import format_text
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.staff.webhook import payload
from tests.conftest import CORPUS

SECRETS = {
    "card": "4111 1111 1111 1111",
    "card_digits": "4111111111111111",
    "ssn": "536-22-1234",
    "personnummer": "811218-9876",
    "nino": "AB 12 34 56 C",
    "email": "anna.berg@example.com",
    "phone": "+46 70 123 45 67",
    "aws": "AKIA2OGYBAH6STMMNXNN",
    "slack": "xoxb-821993518190-937865797543-YlSXpfKtHF4vUCsMehGAkWvj",
}
DOCUMENT = "\n".join(f"{k}: {v}" for k, v in SECRETS.items()) + "\n" + "\n".join(
    f"person{i}@example.com" for i in range(6))


def _all_output(runtime: Runtime, blob: bytes, name: str, caplog: pytest.LogCaptureFixture) -> str:
    out = []
    with caplog.at_level(logging.DEBUG):
        for language in ("en", "sv", "nl"):
            report = runtime.pipeline.inspect(blob, Envelope(name, "wetransfer.com", "u", "g"), language)
            out.append(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
            out.append(format_text(report))
            for shown in ("en", "sv", "nl"):  # the page in every language, and what the helpdesk gets
                stored = runtime.find(report.decision_id, shown)
                assert stored is not None
                out.append(render_block_page(stored.report, PageOptions(link_base="", action_base=""), stored.history))
                out.append(json.dumps(payload("ticket", stored, "https://detour.example", {}), ensure_ascii=False))
    runtime.recorder.flush()  # the store is written off the answer's path
    assert runtime.settings.audit_log is not None
    out.append(runtime.settings.audit_log.read_text())
    out.append(_store_dump(runtime.settings.data_dir / "detour.db"))
    out.append(caplog.text)
    return "\n".join(out)


def _store_dump(database: Path) -> str:
    """Every row of every table of the SQLite store, as text."""
    with sqlite3.connect(database) as connection:
        return "\n".join(connection.iterdump())


@pytest.fixture
def isolated(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data",
                                                        "audit_log": tmp_path / "audit.jsonl"}))
    yield runtime
    runtime.close()


def test_no_raw_value_in_any_output(isolated: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    output = _all_output(isolated, DOCUMENT.encode(), "mixed.txt", caplog)
    assert '"decision": "block"' in output
    for kind, value in SECRETS.items():
        assert value not in output, f"raw {kind} leaked"
        assert value.replace(" ", "") not in output.replace(" ", ""), f"raw {kind} leaked (spacing)"


def test_no_raw_corpus_value_in_any_output(isolated: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("customers_q3.csv", "segment.json", "ssn_note.txt", "bot.env"):
        raw = (CORPUS / name).read_text()
        output = _all_output(isolated, raw.encode(), name, caplog)
        emails = re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", raw)
        tokens = re.findall(r"xox[a-z]-[\w-]+|\d{3}-\d{2}-\d{4}", raw)
        assert emails or tokens
        for value in emails + tokens:
            assert value not in output, f"{name}: a raw value leaked"
