"""`detour serve` as a real process on loopback: it serves, and refuses an invalid policy."""

from __future__ import annotations

import shutil
import subprocess
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


def test_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "broken.yaml").write_text("rules:\n  - id: x\n    action: block\n")
    result = subprocess.run([DETOUR, "serve", "--policies", str(policies), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "broken.yaml:2: rules[" in result.stderr and "Field required" in result.stderr
