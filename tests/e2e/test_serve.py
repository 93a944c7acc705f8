"""`detour serve` as a real process on loopback: it serves, and refuses an invalid policy."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, POLICIES
from tests.services import DETOUR, DetourService, free_port


@pytest.fixture
def server(detour_service: DetourService) -> str:
    return detour_service.http


def test_serves_decisions_over_real_http(server: str, detour_service: DetourService) -> None:
    with (CORPUS / "customers_q3.csv").open("rb") as fh:
        response = httpx.post(f"{server}/v1/inspect", files={"file": ("customers_q3.csv", fh)},
                              data={"destination": "https://wetransfer.com/"},
                              headers={"Accept-Language": "sv", **detour_service.auth}, timeout=30)
    assert response.status_code == 200
    report = response.json()
    assert report["decision"] == "block" and report["language"] == "sv"
    assert report["helpdesk"]["message"].startswith("Tyvärr")
    assert httpx.get(f"{server}/docs", timeout=5).status_code == 200


def test_starts_quietly_and_a_busy_port_is_one_clear_line(detour_service: DetourService, tmp_path: Path) -> None:
    log = detour_service.log.read_text(errors="replace")
    assert "serving on" in log and "presidio-analyzer" not in log  # no line per recognizer loaded
    busy = int(detour_service.http.rsplit(":", 1)[1])
    result = subprocess.run([DETOUR, "serve", "--port", str(busy), "--icap-port", "0"], capture_output=True,
                            text=True, timeout=60, env={**detour_service.environment,
                                                        "DETOUR_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"detour: can't serve HTTP on 127.0.0.1:{busy}: Address already in use (another detour serve? choose "
        "another with --port or DETOUR_PORT)"]


def test_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "broken.yaml").write_text("rules:\n  - id: x\n    action: block\n")
    result = subprocess.run([DETOUR, "serve", "--policies", str(policies), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "broken.yaml:2: rules[" in result.stderr and "Field required" in result.stderr


def test_a_caller_cannot_name_its_address_with_forwarding_headers(detour_service: DetourService) -> None:
    """Without DETOUR_TRUSTED_PROXIES the address a connection comes from is the caller's: X-Forwarded-For
    and Forwarded from a script on the same host change nothing, and the audit line names the real peer."""
    token = detour_service.client_token("forwarding-script")
    answer = httpx.post(f"{detour_service.http}/v1/inspect", content=b"Meeting notes\n",
                        params={"filename": "notes.txt", "destination": "wetransfer.com"},
                        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "10.0.0.5",
                                 "Forwarded": "for=10.0.0.6"}, timeout=30)
    assert answer.status_code == 200
    decision = answer.json()["decision_id"]
    deadline = time.monotonic() + 10
    entry = None
    while entry is None and time.monotonic() < deadline:
        entry = next((json.loads(line) for line in detour_service.audit.read_text().splitlines()
                      if decision in line), None)
        time.sleep(0.1)
    assert entry is not None and entry["client_ip"] == "127.0.0.1" and entry["api_client"] == "forwarding-script"


def test_what_it_keeps_is_for_the_service_alone(detour_service: DetourService) -> None:
    data = Path(detour_service.environment["DETOUR_DATA_DIR"])
    for path in [detour_service.audit, *data.rglob("*")]:
        if path.is_file() and path.name.startswith(("detour.db", "audit", "decisions")):
            assert path.stat().st_mode & 0o077 == 0, f"{path} can be read by others"
