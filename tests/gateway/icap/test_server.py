"""The ICAP server at the protocol level, over real sockets: previews, ieof, persistence, bad input."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.icap.server import IcapConfig, IcapServer
from gateway.pipeline import Pipeline
from gateway.runtime import Runtime
from gateway.settings import networks
from tests.conftest import CORPUS, POLICIES, policies_reading_sanctioned
from tests.icap_client import connect, dechunk, exchange, http_head, read_answer, reqmod, serving

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


@pytest.fixture(scope="module")
def icap(pipeline: Pipeline) -> Iterator[tuple[int, IcapServer]]:
    server = IcapServer(pipeline)
    with serving(server) as port:
        yield port, server


def test_options(icap: tuple[int, IcapServer]) -> None:
    port, server = icap
    answer = exchange(port, b"OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"ICAP/1.0 200 OK")
    for header in (b"Methods: REQMOD", b"Allow: 204", b"Preview: 4096", b"Transfer-Preview: *", b"Options-TTL:",
                   b"Max-Connections:", server.istag.encode()):
        assert header in answer


def test_a_bodiless_request_gets_204_at_once(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    assert exchange(port, *reqmod(http_head("GET"), None)).startswith(b"ICAP/1.0 204")
    connect_head = b"CONNECT share.example.net:443 HTTP/1.1\r\nHost: share.example.net:443\r\n\r\n"
    assert exchange(port, *reqmod(connect_head, None)).startswith(b"ICAP/1.0 204")


def test_a_body_inside_the_preview_is_decided_without_100_continue(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    small = b"sku,name\nP1,lamp\n"
    first, rest = reqmod(http_head(), small, preview=4096, allow_204=False)
    assert rest == b"" and b"ieof" in first
    assert exchange(port, first).startswith(b"ICAP/1.0 204")  # 204 answers a preview even without Allow


def test_a_body_longer_than_the_preview_is_read_after_100_continue(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    answer = exchange(port, *reqmod(http_head(), CONTACTS, preview=1024))
    assert answer.startswith(b"ICAP/1.0 200 OK") and b"HTTP/1.1 403 Forbidden" in answer
    assert b"X-Detour-Decision: DTR-" in answer


def test_without_allow_204_an_allowed_body_comes_back_unmodified(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    body = b"Meeting notes about the launch.\n" * 400
    head = http_head(headers="Content-Type: text/plain\r\n")
    answer = exchange(port, *reqmod(head, body, preview=0, allow_204=False))
    assert answer.startswith(b"ICAP/1.0 200 OK") and b"Encapsulated: req-hdr=0, req-body=" in answer
    echoed = answer.split(b"\r\n\r\n", 2)
    assert echoed[1] + b"\r\n\r\n" == head
    assert dechunk(echoed[2]) == body


def test_persistent_connection_serves_several_requests(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    with connect(port) as sock:
        for _ in range(3):
            sock.sendall(reqmod(http_head("GET"), None)[0])
            assert read_answer(sock).startswith(b"ICAP/1.0 204")
        sock.sendall(reqmod(http_head(), CONTACTS)[0])
        assert b"403 Forbidden" in read_answer(sock)


def test_many_concurrent_requests(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: exchange(port, *reqmod(http_head(), CONTACTS if i % 2 else b"a,b\n1,2\n")),
                                range(32)))
    assert sum(b"403 Forbidden" in a for a in answers) == 16
    assert sum(a.startswith(b"ICAP/1.0 204") for a in answers) == 16


@pytest.mark.parametrize("request_bytes", [
    b"REQMOD icap://127.0.0.1/reqmod HTTP/1.1\r\n\r\n",
    b"NONSENSE\r\n\r\n",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=x\r\n\r\n",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nno colon here\r\n\r\n",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=5\r\n\r\nGET /\r\nzz\r\n",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\n",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=99999999999\r\n\r\nGET",
    b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=50, req-body=10\r\n\r\n",
])
def test_malformed_requests_get_400_and_the_server_keeps_serving(icap: tuple[int, IcapServer],
                                                                request_bytes: bytes) -> None:
    port, _ = icap
    with connect(port) as sock:
        sock.sendall(request_bytes)
        assert read_answer(sock).startswith(b"ICAP/1.0 400")
    assert exchange(port, *reqmod(http_head("GET"), None)).startswith(b"ICAP/1.0 204")


def test_unknown_service_and_method(icap: tuple[int, IcapServer]) -> None:
    port, _ = icap
    assert exchange(port, b"OPTIONS icap://127.0.0.1/avscan ICAP/1.0\r\n\r\n").startswith(b"ICAP/1.0 404")
    assert exchange(port, b"RESPMOD icap://127.0.0.1/reqmod ICAP/1.0\r\n\r\n").startswith(b"ICAP/1.0 501")


def test_a_client_that_disconnects_mid_body_does_not_hurt_the_server(icap: tuple[int, IcapServer]) -> None:
    port, server = icap
    first, _ = reqmod(http_head(), CONTACTS)
    for cut in (10, len(first) // 2, len(first) - 3):
        with connect(port) as sock:
            sock.sendall(first[:cut])
    assert b"403 Forbidden" in exchange(port, *reqmod(http_head(), CONTACTS))


def test_the_user_comes_from_the_configured_header(icap: tuple[int, IcapServer], pipeline: Pipeline,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    port, _ = icap
    extra = "X-Client-Username: anna.berg\r\nX-Client-IP: 10.1.2.3\r\n"
    head = http_head(headers="Content-Type: text/csv\r\nProxy-Authorization: Basic c2VjcmV0OnB3\r\n")
    with caplog.at_level("INFO", logger="detour.audit"):
        answer = exchange(port, *reqmod(head, CONTACTS, extra=extra))
    assert b"403 Forbidden" in answer
    records = [r.getMessage() for r in caplog.records if r.name == "detour.audit"]
    assert any('"user": "anna.berg"' in r or '"user":"anna.berg"' in r for r in records)
    assert not any("c2VjcmV0OnB3" in r for r in records)


def test_a_timed_out_inspection_is_decided_by_the_policys_on_error(make_runtime: Callable[..., Runtime],
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  tmp_path: Path) -> None:
    """Default policy: on_error blocks unsanctioned destinations and lets sanctioned ones through. (A rule
    that warns about contact lists on sanctioned sites too, so both uploads are read and can time out.)"""
    slow = IcapServer(make_runtime(inspect_seconds=0.000_001,
                                   policies_dir=policies_reading_sanctioned(tmp_path)).pipeline)

    async def ask(url: str) -> bytes:
        listener = await slow.start("127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = http_head(url=url)
        writer.write(reqmod(head, CONTACTS, extra="X-Client-IP: 10.9.8.7\r\n")[0])
        await writer.drain()
        answer = await reader.read(1 << 20)
        writer.close()
        listener.close()
        return answer

    with caplog.at_level("INFO", logger="detour.audit"):
        blocked = asyncio.run(ask("http://share.example.net/upload"))
        allowed = asyncio.run(ask("https://corp-example.sharepoint.com/sites/partners/upload"))
    assert b"403 Forbidden" in blocked and b"internal-timeout" not in blocked  # the page says it plainly
    assert allowed.startswith(b"ICAP/1.0 204")
    records = [r.getMessage() for r in caplog.records if r.name == "detour.audit"]
    assert sum('"internal-timeout"' in r for r in records) == 2
    assert all("10.9.8.7" in r for r in records if '"internal-timeout"' in r)


def test_the_istag_changes_when_the_policy_does(pipeline: Pipeline, tmp_path: Path,
                                               make_runtime: Callable[..., Runtime]) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    default = policies / "default.yaml"
    default.write_text(default.read_text().replace("min_people: 5", "min_people: 10"))
    changed = make_runtime(policies_dir=policies).pipeline
    assert IcapServer(changed).istag != IcapServer(pipeline).istag
    assert IcapServer(pipeline).istag == IcapServer(pipeline).istag


def test_a_chunk_declared_as_a_gigabyte_costs_at_most_the_upload_limit(make_runtime: Callable[..., Runtime]) -> None:
    """The server reads a chunk in pieces as they come: a client that declares 1 GiB, sends 48 MB of it and
    goes away costs the server about the upload limit (1 MB here), never what it declared or sent."""
    import tracemalloc

    server = IcapServer(make_runtime(max_upload_bytes=1024 * 1024).pipeline)
    start, _ = reqmod(http_head(), b"")
    piece = b"a" * (1024 * 1024)
    with serving(server) as port:
        tracemalloc.start()
        try:
            with connect(port) as sock:
                sock.sendall(start[: -len(b"0\r\n\r\n")] + b"40000000\r\n")
                for _ in range(48):  # sendall returns once the server has taken in most of it
                    sock.sendall(piece)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert b"403 Forbidden" in exchange(port, *reqmod(http_head(), CONTACTS))  # still serving
    assert peak < 16 * 1024 * 1024, f"{peak // 1024 // 1024} MB held for 48 MB of a chunk declared as 1 GiB"


# --- connections: bounded in number and in time ------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends before it closes the connection (waiting at most ``seconds``)."""
    sock.settimeout(seconds)
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece


@pytest.fixture
def strict_icap(pipeline: Pipeline) -> Iterator[int]:
    config = IcapConfig(max_connections=2, idle_seconds=1.0, header_seconds=0.5, body_seconds=0.5)
    with serving(IcapServer(pipeline, config)) as port:
        yield port


def test_a_client_stuck_after_100_continue_is_answered_408_and_closed(strict_icap: int,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    first, _rest = reqmod(http_head(), CONTACTS, preview=1024)
    with caplog.at_level("INFO", logger="gateway.icap.server"), connect(strict_icap) as sock:
        sock.sendall(first)
        assert read_answer(sock).startswith(b"ICAP/1.0 100 Continue")
        # ... and the client never sends the rest
        assert _closed_within(sock, 10).startswith(b"ICAP/1.0 408")
    assert any("stopped sending" in r.getMessage() and r.levelname == "INFO" for r in caplog.records)
    assert b"403 Forbidden" in exchange(strict_icap, *reqmod(http_head(), CONTACTS))  # still serving


def test_a_head_that_stops_halfway_is_answered_408_and_closed(strict_icap: int) -> None:
    with connect(strict_icap) as sock:
        sock.sendall(b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n")  # no blank line, ever
        assert _closed_within(sock, 10).startswith(b"ICAP/1.0 408")


def test_an_idle_connection_is_closed(strict_icap: int) -> None:
    with connect(strict_icap) as sock:
        sock.sendall(reqmod(http_head("GET"), None)[0])
        assert read_answer(sock).startswith(b"ICAP/1.0 204")
        assert _closed_within(sock, 10) == b""  # nothing more sent: closed quietly after idle_seconds


def test_no_more_connections_than_advertised(strict_icap: int) -> None:
    options = exchange(strict_icap, b"OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\n\r\n")
    assert b"Max-Connections: 2\r\n" in options
    held = [connect(strict_icap), connect(strict_icap)]
    try:
        for sock in held:  # both are being served
            sock.sendall(reqmod(http_head("GET"), None)[0])
            assert read_answer(sock).startswith(b"ICAP/1.0 204")
        with connect(strict_icap) as third:
            assert _closed_within(third, 10).startswith(b"ICAP/1.0 503")
    finally:
        for sock in held:
            sock.close()
    for _ in range(50):  # the server notices the two closed connections
        answer = exchange(strict_icap, *reqmod(http_head("GET"), None))
        if answer.startswith(b"ICAP/1.0 204"):
            break
        time.sleep(0.1)
    assert answer.startswith(b"ICAP/1.0 204")


def test_a_client_that_goes_away_mid_body_is_one_info_line(icap: tuple[int, IcapServer],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    port, _ = icap
    first, _ = reqmod(http_head(), CONTACTS)
    with caplog.at_level("INFO", logger="gateway.icap.server"):
        with connect(port) as sock:
            sock.sendall(first[: len(first) // 2])
        exchange(port, *reqmod(http_head("GET"), None))  # the server still serves others
        deadline = time.monotonic() + 10  # the server sees the end of the first one in its own time
        while not any("went away" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.05)
    records = [r for r in caplog.records if r.name == "gateway.icap.server"]
    assert any("went away" in r.getMessage() for r in records)
    assert {r.levelname for r in records} == {"INFO"} and not any(r.exc_info for r in records)


def test_only_the_proxies_it_serves_may_speak_icap(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    """Whoever speaks ICAP names the user and address of an upload: a connection from an address outside
    DETOUR_ICAP_CLIENTS is answered 403 and closed, and the log says so once, not once per connection."""
    server = IcapServer(pipeline, IcapConfig(clients=networks("10.0.0.0/8,::1")))
    with caplog.at_level("INFO", logger="gateway.icap.server"), serving(server) as port:
        answers = [exchange(port, *reqmod(http_head(), CONTACTS, extra="X-Client-Username: alice\r\n"))
                   for _ in range(5)]
    assert all(a.startswith(b"ICAP/1.0 403 Forbidden") for a in answers), answers[0][:200]
    refusals = [r for r in caplog.records if "DETOUR_ICAP_CLIENTS" in r.getMessage()]
    assert len(refusals) == 1 and "127.0.0.1" in refusals[0].getMessage()
    assert server.open == 0
