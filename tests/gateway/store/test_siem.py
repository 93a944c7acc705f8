"""SIEM export: decision and admin events reach a real syslog receiver (rsyslog, started here) over UDP, TCP and
TLS, in CEF and as OCSF JSON, with no raw value in them; a receiver that is down never holds an upload."""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.http.app import create_app
from gateway.records import Envelope
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.admin import Role
from gateway.store.siem import Siem, decision_cef
from tests.factories import AppClient
from tests.services import Syslog, free_port, start_rsyslog

CARD, MAIL = "4111 1111 1111 1111", "anna.svensson@example.com"
CONTENT = f"Refund to card {CARD} for {MAIL}, phone +46 70 123 45 67.\n".encode()
FILE_NAME = f"refund {MAIL} 4111111111111111.txt"  # metadata holds the values too
RAW = (CARD, CARD.replace(" ", ""), MAIL, "70 123 45 67", "701234567")
HEADER = re.compile(r"^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ detour \d+ (decision|admin) - (.*)$")


@pytest.fixture(scope="module")
def syslog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Syslog]:
    yield from start_rsyslog(tmp_path_factory.mktemp("siem"))


def test_events_reach_a_real_syslog_receiver_in_cef_and_ocsf(settings: Settings, syslog: Syslog,
                                                             tmp_path: Path) -> None:
    targets = (f"udp://127.0.0.1:{syslog.udp}?format=cef, tcp://127.0.0.1:{syslog.tcp}?format=ocsf, "
               f"tls://localhost:{syslog.tls}?format=cef")
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data", "syslog": targets,
                                                        "syslog_ca": syslog.ca}))
    try:
        report = runtime.pipeline.inspect(CONTENT, Envelope(FILE_NAME, f"https://wetransfer.com/up?to={MAIL}",
                                                            user="anna", group="finance"), "en")
        assert report.decision == "block"
        app = create_app(runtime.settings, runtime)
        token = runtime.admin_tokens.create(f"siem-{secrets.token_hex(3)}", Role.POLICY_ADMIN)
        assert AppClient(app, {"Authorization": f"Bearer {token}"}).get("/v1/admin/policy").status_code == 200
        lines = syslog.lines(6)
        for sender in runtime.recorder.audit.siem.senders:  # type: ignore[union-attr]
            assert sender.connections <= 1, f"{sender.target} reconnected for each event"  # TLS 1.3 tickets too
    finally:
        runtime.close()
    text = "\n".join(lines)
    for value in RAW:
        assert value not in text, "a raw value reached the SIEM"
    parsed = [HEADER.match(line) for line in lines]
    assert all(parsed), lines
    by_kind: dict[tuple[str, str], list[str]] = {}
    for match in parsed:
        assert match is not None
        kind, body = match.group(2), match.group(3)
        by_kind.setdefault((kind, "cef" if body.startswith("CEF:") else "ocsf"), []).append(body)
        assert int(match.group(1)) // 8 == 16  # local0
    cef = by_kind[("decision", "cef")]
    assert len(cef) == 2  # one over UDP, one over TLS
    for body in cef:
        assert body.startswith("CEF:0|Detour|Detour DLP gateway|0.1.0|decision:block|Upload blocked|7|")
        assert f"externalId={report.decision_id}" in body and "act=block" in body and "dhost=wetransfer.com" in body
        assert "suser=anna" in body and "cs2=block-payment-cards-external" in body
    decision = json.loads(by_kind[("decision", "ocsf")][0])
    assert (decision["class_uid"], decision["type_uid"], decision["category_uid"]) == (2006, 200601, 2)
    assert decision["finding_info"]["uid"] == report.decision_id and decision["action"] == "Denied"
    assert decision["disposition"] == "Blocked" and decision["actor"]["user"]["name"] == "anna"
    assert decision["file"]["hashes"][0]["value"] == report.sha256
    assert "payment_card" in decision["finding_info"]["types"]
    admin_cef = by_kind[("admin", "cef")]
    assert len(admin_cef) == 2 and all("|admin:policy.view|" in body and "cs1=policy_admin" in body
                                       for body in admin_cef)
    admin = json.loads(by_kind[("admin", "ocsf")][0])
    assert admin["class_uid"] == 6003 and admin["api"]["operation"] == "policy.view" and admin["activity_id"] == 2


def test_a_receiver_that_is_down_never_holds_an_upload(settings: Settings, tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data",
                                                        "syslog": f"tcp://127.0.0.1:{closed}"}))
    try:
        decided = [runtime.pipeline.inspect(CONTENT, Envelope("r.txt", "wetransfer.com"), "en").decision
                   for _ in range(3)]
        assert decided == ["block"] * 3  # answered: the SIEM is not on the upload's path
        assert runtime.recorder.flush()  # and recorded in the store as ever
        sender = runtime.recorder.audit.siem.senders[0]  # type: ignore[union-attr]
        assert sender.sent == 0 and sender.dropped == 0
    finally:
        runtime.close()  # gives up on what waits, within CLOSE_SECONDS


def test_cef_escapes_what_would_break_a_field() -> None:
    entry = {"time": "2026-11-30T10:00:00.000+00:00", "decision_id": "DTR-1", "decision": "warn",
             "file": "a|b=c\\d\ne.txt", "rules": ["r|1"], "data_classes": {"x": {"count": 1, "people": 0}}}
    body = decision_cef(entry)
    assert "fname=a|b\\=c\\\\d\\ne.txt" in body  # in an extension, = \\ and newlines are escaped
    assert re.split(r"(?<!\\)\|", body)[:7] == ["CEF:0", "Detour", "Detour DLP gateway", "0.1.0", "decision:warn",
                                                "Upload warned", "4"]
    assert "\n" not in body


def test_an_unknown_syslog_target_is_refused_at_start() -> None:
    for wrong in ("syslog.corp:514", "tcp://siem.corp", "tls://siem.corp:6514?format=leef"):
        with pytest.raises(ValidationError, match="DETOUR_SYSLOG"):
            Settings(syslog=wrong)


def _receive_until(server: socket.socket, wanted: bytes, frames: list[bytes]) -> None:
    """A receiver: takes one connection, reads until ``wanted`` came, then closes it and stops listening."""
    server.settimeout(10)
    connection, _ = server.accept()
    with connection:
        connection.settimeout(10)
        while wanted not in b"".join(frames):
            chunk = connection.recv(65536)
            if not chunk:
                break
            frames.append(chunk)
    server.close()


def test_an_event_after_the_receiver_restarted_is_not_lost() -> None:
    port = free_port()
    siem = Siem(f"tcp://127.0.0.1:{port}?format=cef", hostname="gw1")
    entry = {"time": "2026-11-30T10:00:00.000+00:00", "decision": "block", "rules": ["r"], "data_classes": {}}
    try:
        for reference in (b"DTR-FIRST", b"DTR-SECOND"):  # the receiver restarts between the two
            frames: list[bytes] = []
            server = socket.create_server(("127.0.0.1", port))
            receiver = threading.Thread(target=_receive_until, args=(server, reference, frames))
            receiver.start()
            siem.decision({**entry, "decision_id": reference.decode()})
            receiver.join(15)
            received = b"".join(frames)
            assert reference in received, f"{reference!r} was lost"
            assert re.match(rb"^\d+ <132>1 ", received)  # octet-counted, local0.warning
    finally:
        siem.close()
