"""`detour serve` as a real process on loopback: it serves, and refuses an invalid policy."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, POLICIES

DETOUR = str(Path(sys.executable).parent / "detour")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "detour.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([DETOUR, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"detour serve exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"detour serve did not become ready within 60 s:\n{log_path.read_text()}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serves_decisions_over_real_http(server: str) -> None:
    with (CORPUS / "customers_q3.csv").open("rb") as fh:
        response = httpx.post(f"{server}/v1/inspect", files={"file": ("customers_q3.csv", fh)},
                              data={"destination": "https://wetransfer.com/"}, headers={"Accept-Language": "sv"},
                              timeout=30)
    assert response.status_code == 200
    report = response.json()
    assert report["decision"] == "block" and report["language"] == "sv"
    assert report["helpdesk"]["message"].startswith("Tyvärr")
    assert httpx.get(f"{server}/docs", timeout=5).status_code == 200


def test_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "broken.yaml").write_text("rules:\n  - id: x\n    action: block\n")
    result = subprocess.run([DETOUR, "serve", "--policies", str(policies), "--port", str(_free_port())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "broken.yaml:2: rules[" in result.stderr and "Field required" in result.stderr
