"""Through the real thing: uploads via Squid (Debian's package) with REQMOD to `detour serve`, and c-icap-client.

One Squid, one Detour and one origin server per run, all on loopback.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ARTIFACTS, CORPUS
from tests.services import DetourService, Origin, require

DESTINATION = "/upload"


def client(proxy: str) -> httpx.Client:
    return httpx.Client(proxy=proxy, timeout=60)


def test_a_contact_list_is_stopped_with_the_alternatives_page_and_the_origin_gets_nothing(
        squid: str, origin: Origin) -> None:
    origin.clear()
    with client(squid) as http, (CORPUS / "customers_q3.csv").open("rb") as fh:
        response = http.post(f"{origin.url}{DESTINATION}", files={"file": ("customers_q3.csv", fh, "text/csv")},
                             headers={"Accept": "text/html", "Accept-Language": "sv"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    decision = response.headers["x-detour-decision"]
    assert decision.startswith("DTR-")
    page = response.text
    assert "Tyvärr" in page and decision in page and "customers_q3.csv" in page
    assert 'class="go" href="http://127.0.0.1:' in page and f"/d/{decision}/go/" in page  # tracked route links
    assert origin.received == []


def test_a_benign_upload_reaches_the_origin_byte_for_byte(squid: str, origin: Origin) -> None:
    origin.clear()
    body = (CORPUS / "products.csv").read_bytes()
    with client(squid) as http:
        response = http.put(f"{origin.url}/files/products.csv", content=body,
                            headers={"Content-Type": "text/csv"})
    assert response.status_code == 200 and response.text == "stored"
    [received] = origin.received
    assert received.method == "PUT" and received.body == body


def test_a_large_benign_upload_is_echoed_back_whole(squid: str, origin: Origin) -> None:
    """Squid sends no Allow: 204 for bodies it cannot buffer: Detour must return the request itself."""
    origin.clear()
    body = b"".join(f"P{i:07d},desk lamp,{i % 997}.50\n".encode() for i in range(300_000))  # ~7 MB
    with client(squid) as http:
        response = http.post(f"{origin.url}/bulk", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    [received] = origin.received
    assert len(received.body) == len(body) and received.body == body


def test_api_clients_get_the_decision_json(squid: str, origin: Origin) -> None:
    origin.clear()
    with client(squid) as http, (CORPUS / "segment.json").open("rb") as fh:
        response = http.post(f"{origin.url}/api/import", files={"data": ("segment.json", fh)},
                             headers={"Accept": "application/json"})
    assert response.status_code == 403
    report = response.json()
    assert report["decision"] == "block" and report["decision_id"] == response.headers["x-detour-decision"]
    assert report["alternatives"] and origin.received == []


def test_requests_without_an_upload_pass(squid: str, origin: Origin) -> None:
    origin.clear()
    with client(squid) as http:
        assert http.get(f"{origin.url}/page?q=1").status_code == 200
    assert [r.method for r in origin.received] == ["GET"]


def test_urlencoded_forms_are_inspected(squid: str, origin: Origin) -> None:
    origin.clear()
    card = "4111 1111 1111 1111"
    with client(squid) as http:
        response = http.post(f"{origin.url}/checkout", data={"note": f"pay with {card}"})
    assert response.status_code == 403 and origin.received == []
    assert card not in response.text  # masked


def test_the_block_page_escapes_the_file_name(squid: str, origin: Origin) -> None:
    hostile = '<img src=x onerror=alert(1)>.csv'
    with client(squid) as http, (CORPUS / "customers_q3.csv").open("rb") as fh:
        response = http.post(f"{origin.url}{DESTINATION}", files={"file": (hostile, fh, "text/csv")})
    assert response.status_code == 403
    assert hostile not in response.text and "&lt;img src=x onerror=alert(1)&gt;.csv" in response.text


# --- c-icap-client: an independent ICAP client ------------------------------------------------


def c_icap(detour_service: DetourService, *args: str) -> str:
    program = require("c-icap-client", "c-icap")
    done = subprocess.run([program, "-i", "127.0.0.1", "-p", str(detour_service.icap_port), "-s", "reqmod", "-v",
                           *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_c_icap_client_options(detour_service: DetourService) -> None:
    out = c_icap(detour_service)
    assert "ICAP/1.0 200 OK" in out and "Methods: REQMOD" in out and 'ISTag: "detour-' in out
    assert "Allow: 204" in out and "Preview: 4096" in out


def test_c_icap_client_reqmod_blocks_a_contact_list(detour_service: DetourService, tmp_path: Path) -> None:
    out = c_icap(detour_service, "-req", "http://files.example/upload", "-method", "POST",
                 "-f", str(CORPUS / "customers_q3.csv"), "-o", str(tmp_path / "answer"))
    assert "ICAP/1.0 200 OK" in out and "HTTP/1.1 403 Forbidden" in out and "X-Detour-Decision: DTR-" in out
    assert "contact details of 60 people" in (tmp_path / "answer").read_text()


def test_c_icap_client_reqmod_allows_a_benign_file(detour_service: DetourService) -> None:
    out = c_icap(detour_service, "-req", "http://files.example/upload", "-method", "POST",
                 "-f", str(CORPUS / "roadmap.docx"))
    assert "ICAP/1.0 204" in out


def test_c_icap_client_without_204_gets_the_request_back(detour_service: DetourService, tmp_path: Path) -> None:
    body = tmp_path / "notes.txt"
    body.write_text("Meeting notes: agree on the launch date. " * 500)  # beyond the preview
    out = c_icap(detour_service, "-req", "http://files.example/upload", "-method", "POST", "-no204",
                 "-f", str(body), "-o", str(tmp_path / "echo"))
    assert "ICAP/1.0 200 OK" in out
    assert (tmp_path / "echo").read_bytes().endswith(body.read_bytes())


def test_decisions_through_the_proxy_are_recorded_with_user_and_destination(
        detour_service: DetourService, squid: str, origin: Origin) -> None:
    marker = f"upload-{secrets.token_hex(4)}.csv"
    with client(squid) as http, (CORPUS / "customers_q3.csv").open("rb") as fh:
        http.post(f"{origin.url}{DESTINATION}", files={"file": (marker, fh, "text/csv")})
    lines = [json.loads(line) for line in detour_service.audit.read_text().splitlines() if marker in line]
    assert lines, "no audit line for the proxied upload"
    record = lines[-1]
    assert record["decision"] == "block" and record["channel"] == "icap"
    assert origin.host in json.dumps(record)
    assert "Proxy-Authorization" not in detour_service.audit.read_text()


@pytest.fixture(autouse=True)
def _no_leftover_requests(origin: Origin) -> None:
    origin.clear()


# --- a real browser ------------------------------------------------------------------------------


def test_a_blocked_browser_upload_through_squid_shows_the_alternatives_page(browser: Any, squid: str,
                                                                          origin: Origin) -> None:
    origin.clear()
    context = browser.new_context(proxy={"server": squid}, locale="sv-SE")
    try:
        page = context.new_page()
        page.goto(f"{origin.url}/form")
        page.set_input_files("input[type=file]", str(CORPUS / "customers_q3.csv"))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.title().startswith("Tyvärr, den här uppladdningen stoppades · DTR-")
        routes = page.locator(".route a.go")  # through Detour's tracker, at its public address
        assert routes.count() >= 2 and "/go/" in routes.first.get_attribute("href")
        assert page.locator(".reference").filter(has_text="DTR-").count() == 1  # the reference to quote
        assert page.locator("script").count() == 0  # the page in the site's name runs no script
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "squid-block-page-sv.png"), full_page=True)
    finally:
        context.close()
    assert not [r for r in origin.received if r.method == "POST"]  # the upload never reached the site
