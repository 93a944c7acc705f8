"""Connections to a real `detour serve`, bounded in time and number: slow and silent clients are closed,
a client that leaves is one INFO line, and running out of descriptors is survived with few log lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS
from tests.services import DetourService, start_detour

HURRIED = {"DETOUR_HEADER_SECONDS": "1", "DETOUR_BODY_SECONDS": "1", "DETOUR_IDLE_SECONDS": "2",
           "DETOUR_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DetourService]:
    yield from start_detour(tmp_path_factory.mktemp("hurried"), HURRIED)


def connect(service: DetourService, icap: bool = False) -> socket.socket:
    port = service.icap_port if icap else int(service.http.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=15)


def until_closed(sock: socket.socket) -> bytes:
    data = b""
    while piece := sock.recv(65536):
        data += piece
    return data


def test_a_client_that_sends_nothing_is_closed(hurried: DetourService) -> None:
    with connect(hurried) as sock:
        assert until_closed(sock) == b""  # within the header deadline, not never


def test_a_head_trickled_byte_by_byte_is_closed(hurried: DetourService) -> None:
    with connect(hurried) as sock:
        head = b"GET /healthz HTTP/1.1\r\nHost: detour\r\nX-Slow: " + b"a" * 200
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still trickling
        assert until_closed(sock) == b""


def test_a_body_that_stops_coming_is_answered_408(hurried: DetourService) -> None:
    with connect(hurried) as sock:
        sock.sendall(b"POST /v1/inspect HTTP/1.1\r\nHost: detour\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 100000\r\n\r\nname,email\r\n")
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_client_that_leaves_mid_upload_is_one_info_line(hurried: DetourService) -> None:
    before = hurried.log.read_text()
    with connect(hurried) as sock:
        sock.sendall(b"POST /v1/inspect HTTP/1.1\r\nHost: detour\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: 100000\r\n\r\nname,email\r\n")
    time.sleep(0.5)
    assert httpx.get(f"{hurried.http}/healthz", timeout=10).status_code == 200
    added = hurried.log.read_text()[len(before):]
    assert "went away" in added and "Traceback" not in added and "ERROR" not in added


def test_running_out_of_descriptors_is_survived_quietly(tmp_path: Path) -> None:
    """With 96 descriptors, 300 silent connections exhaust the process: it refuses for a while, says so in a
    line or two (not one per refusal), closes the silent ones at their deadline, and serves again."""
    for service in start_detour(tmp_path, HURRIED, open_files=96):
        held: list[socket.socket] = []
        for _ in range(150):
            for icap in (False, True):
                try:
                    held.append(connect(service, icap=icap))
                except OSError:
                    pass
        time.sleep(3)  # past the header deadline: the server closes what it accepted
        for sock in held:
            sock.close()
        for _ in range(100):
            try:
                if httpx.get(f"{service.http}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        upload = httpx.post(f"{service.http}/v1/inspect", content=(CORPUS / "customers_q3.csv").read_bytes(),
                            headers={"X-Detour-Filename": "c.csv", **service.auth}, timeout=30)
        assert upload.status_code == 200 and upload.json()["decision"] == "block"
        log = service.log.read_text()
        assert log.count("Traceback") == 0, log[-3000:]
        assert 1 <= log.count("out of file descriptors") <= 2, "the descriptors did not run out"
        assert len(log) < 200_000
