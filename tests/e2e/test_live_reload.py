"""A policy edit under a running `detour serve` (its own process and folder): a valid edit changes the next
upload's decision within 2 s without a restart; an invalid edit leaves decisions as they were and `/readyz`
shows the error; fixing the folder recovers. SIGHUP reloads at once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, POLICIES
from tests.services import DetourService, start_detour

pytestmark = pytest.mark.slow

WARN_THERE = ("rules:\n  - id: warn-contact-lists-anywhere\n"
              "    when: {sanctioned: true, data_classes: [contact_data]}\n"
              "    action: warn\n    reason: {en: '{found}', sv: '{found}', nl: '{found}'}\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DetourService, Path]]:
    tmp = tmp_path_factory.mktemp("reload")
    folder = tmp / "policies"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("examples", "tests"))
    # one worker: /readyz then always comes from the process that reloaded (each worker watches the folder on
    # its own; tests/e2e/test_workers.py shows they all follow)
    for service in start_detour(tmp, {"DETOUR_POLICIES_DIR": str(folder), "DETOUR_WORKERS": "1"}):
        yield service, folder


def decision(service: DetourService) -> str:
    answer = httpx.post(f"{service.http}/v1/inspect", files={"file": ("c.csv", (CORPUS / "customers_q3.csv")
                                                                     .read_bytes())},
                        data={"destination": "https://corp-example.sharepoint.com/sites/x"}, headers=service.auth,
                        timeout=60)
    found: str = answer.json()["decision"]
    return found


def ready(service: DetourService) -> dict[str, object]:
    policy: dict[str, object] = httpx.get(f"{service.http}/readyz", timeout=10).json()["policy"]
    return policy


def until(condition: object, seconds: float = 2.0) -> float:
    """Seconds until ``condition()`` holds (fails after ``seconds``)."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < seconds, "not within the time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_edits_apply_without_a_restart_and_a_broken_one_changes_nothing(
        served: tuple[DetourService, Path]) -> None:
    service, folder = served
    assert decision(service) == "allow"
    (folder / "warn-sanctioned.yaml").write_text(WARN_THERE)
    until(lambda: decision(service) == "warn")  # within 2 s, no restart
    loaded = ready(service)["loaded"]

    (folder / "broken.yaml").write_text("rules:\n  - id: oops\n    when: {}\n    action: explode\n")
    until(lambda: ready(service)["error"] is not None)
    state = ready(service)
    assert state["loaded"] == loaded and state["on_disk"] != loaded
    assert "broken.yaml" in str(state["error"])
    assert decision(service) == "warn"  # the running policy stays
    assert httpx.get(f"{service.http}/readyz", timeout=10).status_code == 200

    (folder / "broken.yaml").unlink()
    until(lambda: ready(service)["error"] is None)
    assert ready(service)["loaded"] == loaded and decision(service) == "warn"


def test_sighup_reloads_at_once(served: tuple[DetourService, Path]) -> None:
    """An edit the watch can't see (same size, same time stamp): only SIGHUP brings it in."""
    service, folder = served
    rule = folder / "warn-sanctioned.yaml"
    before = ready(service)["loaded"]
    rule.write_text(WARN_THERE.replace("action: warn\n", "action: warn \n"))  # as long as "block"
    until(lambda: ready(service)["loaded"] != before)  # the watch has it
    assert decision(service) == "warn"
    stamp = rule.stat()
    swap = folder / "warn-sanctioned.next"  # not a policy file: the watch never reads it
    swap.write_text(WARN_THERE.replace("action: warn\n", "action: block\n"))
    os.utime(swap, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    os.replace(swap, rule)  # at once, with the old size and time stamp
    time.sleep(1.5)  # the watch has looked, and seen nothing new
    assert decision(service) == "warn"
    pid = int(subprocess.run(["pgrep", "-f", "--", f"--port {service.http.rsplit(':', 1)[1]}"],
                             capture_output=True, text=True, check=True).stdout.split()[0])
    os.kill(pid, signal.SIGHUP)
    until(lambda: decision(service) == "block")
    assert ready(service)["how"] == "SIGHUP"
