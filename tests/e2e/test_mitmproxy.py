"""The mitmproxy add-on, end to end: mitmdump (its own virtualenv) asks `detour serve`, uploads to a local origin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import CORPUS
from tests.services import DetourService, Origin, free_port, start_mitmproxy


@pytest.fixture(scope="module")
def mitm(tmp_path_factory: pytest.TempPathFactory, detour_service: DetourService) -> Iterator[str]:
    yield from start_mitmproxy(tmp_path_factory.mktemp("mitm"), detour_service.http, detour_service.token)


def test_a_contact_list_is_stopped_with_detours_page(mitm: str, origin: Origin) -> None:
    origin.clear()
    target = f"http://127.0.0.1:{origin.port}/upload"
    with httpx.Client(proxy=mitm, timeout=60) as http, (CORPUS / "customers_q3.csv").open("rb") as fh:
        response = http.post(target, files={"file": ("customers_q3.csv", fh, "text/csv")},
                             headers={"Accept": "text/html", "Accept-Language": "nl"})
    assert response.status_code == 403
    assert response.headers["x-detour-decision"].startswith("DTR-")
    # the routes are tracked at Detour's public address
    assert "Sorry, deze upload is tegengehouden" in response.text and "/go/" in response.text
    assert origin.received == []


def test_a_benign_upload_reaches_the_origin_byte_for_byte(mitm: str, origin: Origin) -> None:
    origin.clear()
    body = (CORPUS / "kpis.xlsx").read_bytes()
    with httpx.Client(proxy=mitm, timeout=60) as http:
        response = http.put(f"http://127.0.0.1:{origin.port}/files/kpis.xlsx", content=body,
                            headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    [received] = origin.received
    assert received.body == body


def test_api_clients_get_json(mitm: str, origin: Origin) -> None:
    with httpx.Client(proxy=mitm, timeout=60) as http, (CORPUS / "bot.env").open("rb") as fh:
        response = http.post(f"http://127.0.0.1:{origin.port}/api", files={"f": ("bot.env", fh)},
                             headers={"Accept": "application/json"})
    assert response.status_code == 403 and response.json()["decision"] == "block"


def test_when_detour_is_unreachable_uploads_are_stopped(tmp_path_factory: pytest.TempPathFactory,
                                                        origin: Origin) -> None:
    origin.clear()
    for proxy in start_mitmproxy(tmp_path_factory.mktemp("mitm-down"), f"http://127.0.0.1:{free_port()}"):
        with httpx.Client(proxy=proxy, timeout=60) as http:
            response = http.post(f"http://127.0.0.1:{origin.port}/upload", content=b"a,b\n1,2\n")
        assert response.status_code == 403 and "could not be checked" in response.text
    assert origin.received == []


def test_an_add_on_without_a_valid_token_stops_uploads_and_says_why(tmp_path_factory: pytest.TempPathFactory,
                                                                    detour_service: DetourService,
                                                                    origin: Origin) -> None:
    """Detour requires client tokens (as in production): an add-on without one is refused, so the upload
    is stopped (never let through unchecked) and mitmproxy's log names the setting to fix."""
    origin.clear()
    tmp = tmp_path_factory.mktemp("mitm-no-token")
    for proxy in start_mitmproxy(tmp, detour_service.http, token="dtr_revoked-or-mistyped"):
        with httpx.Client(proxy=proxy, timeout=60) as http:
            response = http.post(f"http://127.0.0.1:{origin.port}/upload", content=b"a,b\n1,2\n")
        assert response.status_code == 403 and "could not be checked" in response.text
    assert origin.received == []
    assert "detour_token" in (tmp / "mitmdump.log").read_text()

