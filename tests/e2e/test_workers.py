"""`detour serve --workers 2` as a real process tree on loopback: both workers answer HTTP and ICAP, share the
store and the keys, are started again when one dies (no upload lost), stop together, and are counted together
in /metrics."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, POLICIES
from tests.icap_client import answer_head, http_head, reqmod
from tests.services import DETOUR, DetourService, free_port, start_detour, start_origin

BENIGN = b"Agenda for the planning meeting: budget, venues, timeline.\n"
CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


def children(pid: int) -> set[int]:
    """The worker processes of a supervisor (its children that run Python, not the resource tracker)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
            if int(fields[1]) == pid and b"spawn_main" in command:
                found.add(int(stat.parent.name))
    return found


def supervisor_of(service: DetourService) -> int:
    port = service.http.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().split(b"\0")
            if b"serve" in words and port.encode() in words:
                return int(cmdline.parent.name)
    raise AssertionError("no detour serve process")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DetourService]:
    tmp = tmp_path_factory.mktemp("workers")
    policies = tmp / "policies"
    shutil.copytree(POLICIES, policies)
    with contextlib.contextmanager(start_origin)() as helpdesk:
        helpdesk.answer, helpdesk.content_type = b'{"number": "INC0001"}', "application/json"
        yield from start_detour(tmp, {"DETOUR_WORKERS": "2", "DETOUR_POLICIES_DIR": str(policies),
                                      "DETOUR_HELPDESK_WEBHOOK_URL": f"http://127.0.0.1:{helpdesk.port}/hook"})


def admin_token(service: DetourService) -> str:
    made = subprocess.run([DETOUR, "admin", "token", "create", "--role", "viewer", "--name", "prometheus"],
                          capture_output=True, text=True, env=service.environment, timeout=120, check=True)
    return made.stdout.strip().splitlines()[-1]


def inspect(service: DetourService, blob: bytes, name: str = "notes.txt") -> httpx.Response:
    with httpx.Client(timeout=60) as fresh:  # a new connection each time: the kernel picks the worker
        return fresh.post(f"{service.http}/v1/inspect", content=blob, headers=service.auth,
                          params={"filename": name, "destination": "https://wetransfer.com/"})


def metric(text: str, name: str) -> float:
    """The sum of a family's samples (every label set)."""
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE))


def test_two_workers_answer_share_the_store_and_keys(workers: DetourService) -> None:
    supervisor = supervisor_of(workers)
    assert len(children(supervisor)) == 2
    log = workers.log.read_text()
    assert "with 2 worker processes" in log and log.count("serving on") == 1
    answers = [inspect(workers, BENIGN, f"notes-{n}.txt") for n in range(12)]
    assert all(a.status_code == 200 and a.json()["decision"] == "allow" for a in answers)
    blocked = inspect(workers, CONTACTS, "customers.csv").json()
    assert blocked["decision"] == "block"
    for _ in range(6):  # its page, from whichever worker takes the connection, right after the answer
        with httpx.Client(timeout=30) as fresh:
            page = fresh.get(f"{workers.http}/d/{blocked['decision_id']}")
        assert page.status_code == 200 and blocked["decision_id"] in page.text
    # one key for the installation: a form token issued by one worker is good on the other
    assert (Path(workers.environment["DETOUR_DATA_DIR"]) / "hash.key").stat().st_mode & 0o077 == 0


def test_icap_is_answered_by_both_workers(workers: DetourService) -> None:
    for _ in range(8):
        assert answer_head(workers.icap_port, BENIGN).startswith(b"ICAP/1.0 204")
    assert answer_head(workers.icap_port, CONTACTS).startswith(b"ICAP/1.0 200")


def test_a_killed_worker_is_started_again_and_no_upload_fails(workers: DetourService) -> None:
    supervisor = supervisor_of(workers)
    before = children(supervisor)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    answers = [inspect(workers, BENIGN, f"after-{n}.txt") for n in range(20)]  # some wait for the new worker
    assert [a.status_code for a in answers] == [200] * 20
    deadline = time.monotonic() + 60
    while len(children(supervisor) - {victim}) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children(supervisor) - {victim}) == 2
    assert "worker 0 (pid" in workers.log.read_text() or "worker 1 (pid" in workers.log.read_text()


def test_metrics_add_up_every_worker(workers: DetourService) -> None:
    token = admin_token(workers)
    assert httpx.get(f"{workers.http}/metrics", timeout=30).status_code == 401
    before = httpx.get(f"{workers.http}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    for n in range(10):
        assert inspect(workers, BENIGN, f"counted-{n}.txt").status_code == 200
    assert inspect(workers, CONTACTS, "customers.csv").json()["decision"] == "block"
    assert answer_head(workers.icap_port, BENIGN).startswith(b"ICAP/1.0 204")
    time.sleep(0.5)
    text = httpx.get(f"{workers.http}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    assert metric(text, "detour_decisions_total") - metric(before, "detour_decisions_total") == 12
    assert metric(text, "detour_inspection_seconds_count") - metric(before, "detour_inspection_seconds_count") == 12
    assert metric(text, "detour_inspected_bytes_total") - metric(before, "detour_inspected_bytes_total") \
        == 10 * len(BENIGN) + len(CONTACTS) + len(BENIGN)
    assert 'detour_decisions_total{action="block",channel="api",destination="personal_file_sharing"}' in text
    assert 'detour_rule_decisions_total{action="block",rule="block-contact-lists-external"}' in text
    assert 'channel="icap"' in text and 'size="le_100k"' in text
    for family in ("detour_decisions_on_error_total", "detour_unscannable_total", "detour_scanned_parts_total",
                   "detour_open_connections", "detour_recorder_queued", "detour_recorder_spooled",
                   "detour_store_up", "detour_store_write_failures_total", "detour_webhook_outbox",
                   "detour_policy_loaded", "detour_policy_reload_errors_total", "detour_worker_starts_total"):
        assert re.search(rf"^{family}", text, re.MULTILINE), family
    assert metric(text, "detour_store_up") == 1 and metric(text, "detour_policy_loaded") == 1
    assert metric(text, "detour_worker_starts_total") >= 3  # two at start, one again after the kill above
    assert metric(text, "detour_open_connections") >= 1  # this scrape's own
    assert "wetransfer" not in text and "customers" not in text and "notes-" not in text


def test_sighup_reloads_every_worker_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    service_iter = start_detour(tmp_path, {"DETOUR_WORKERS": "2", "DETOUR_POLICIES_DIR": str(policies)})
    service = next(service_iter)
    supervisor = supervisor_of(service)
    pids = children(supervisor)
    default = policies / "default.yaml"
    default.write_text(default.read_text().replace("version: ", "version: reloaded-", 1))
    os.kill(supervisor, signal.SIGHUP)
    deadline = time.monotonic() + 30
    seen: set[str] = set()
    while time.monotonic() < deadline and seen != {"reloaded"}:
        seen = set()
        for _ in range(8):
            with httpx.Client(timeout=30) as fresh:
                version = fresh.get(f"{service.http}/readyz").json()["policy"]["version"]
            seen.add("reloaded" if version.startswith("reloaded-") else version)
        time.sleep(0.2)
    assert seen == {"reloaded"}
    os.kill(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in (supervisor, *pids)):
        time.sleep(0.2)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(supervisor, os.WNOHANG)
    assert not any(Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes()
                   for pid in (supervisor, *pids))
    with contextlib.suppress(StopIteration):
        next(service_iter)


def test_a_worker_that_cannot_start_stops_detour_serve_in_one_line(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "made-up.yaml").write_text(  # a data class on a detector Detour does not have
        "data_classes:\n  - id: made-up\n    title: {en: made up, sv: påhittat, nl: verzonnen}\n"
        "    found:\n      en: {one: '{distinct} made up', other: '{distinct} made up'}\n"
        "      sv: {one: '{distinct} påhittat', other: '{distinct} påhittade'}\n"
        "      nl: {one: '{distinct} verzonnen', other: '{distinct} verzonnen'}\n"
        "    detectors: [NO_SUCH_DETECTOR]\n")
    started = time.monotonic()
    result = subprocess.run([DETOUR, "serve", "--workers", "2", "--policies", str(policies), "--port",
                             str(free_port()), "--icap-port", "0"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DETOUR_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2 and time.monotonic() - started < 60
    assert "Traceback" not in result.stderr
    assert result.stderr.count("can't start") >= 1 and "NO_SUCH_DETECTOR" in result.stderr
    assert "starting it again" not in result.stderr


def test_a_stop_lets_requests_in_flight_finish_and_closes_idle_connections(tmp_path: Path) -> None:
    """SIGTERM (Kubernetes, systemd, Ctrl-C): an ICAP request whose body is still coming gets its answer, an idle
    persistent ICAP connection is closed at once (the proxy opens a new one elsewhere), and all ends in time."""
    service_iter = start_detour(tmp_path, {"DETOUR_WORKERS": "2"})
    service = next(service_iter)
    supervisor = supervisor_of(service)
    with socket.create_connection(("127.0.0.1", service.icap_port), timeout=30) as idle, \
            socket.create_connection(("127.0.0.1", service.icap_port), timeout=30) as busy:
        first, rest = reqmod(http_head(headers=f"Content-Length: {len(CONTACTS)}\r\n"), CONTACTS, preview=1024)
        busy.sendall(first)
        assert busy.recv(100).startswith(b"ICAP/1.0 100")  # the preview is in: the rest is awaited
        os.kill(supervisor, signal.SIGTERM)
        time.sleep(1.0)  # the stop has begun while the body is on its way
        busy.sendall(rest)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += busy.recv(65536)
        assert answer.startswith(b"ICAP/1.0 200")  # answered: the contact list is blocked
        try:  # closed by the worker (reset: it was queued for a worker still starting), not left to time out
            assert idle.recv(100) == b""
        except ConnectionResetError:
            pass
    started = time.monotonic()
    while time.monotonic() - started < 40 and Path(f"/proc/{supervisor}/cmdline").exists():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(supervisor, os.WNOHANG)
        time.sleep(0.2)
    assert not Path(f"/proc/{supervisor}/cmdline").exists() or not Path(f"/proc/{supervisor}/cmdline").read_bytes()
    assert "Traceback" not in service.log.read_text()
    with contextlib.suppress(StopIteration):
        next(service_iter)


def test_a_worker_that_cannot_start_again_waits_and_its_connections_go_to_the_others(tmp_path: Path) -> None:
    """A worker killed while its restart can't succeed (here: the installation's hash key was taken away, and a
    worker never makes a key of its own) is tried again after growing pauses; meanwhile every new connection
    is answered by the worker still serving. Once the key is back, the worker serves again."""
    service_iter = start_detour(tmp_path, {"DETOUR_WORKERS": "2"})
    service = next(service_iter)
    supervisor = supervisor_of(service)
    key = Path(service.environment["DETOUR_DATA_DIR"]) / "hash.key"
    deadline = time.monotonic() + 60
    while len(children(supervisor)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # worker 1 serves too
    kept = key.read_bytes()
    key.unlink()
    victim = max(children(supervisor))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30  # it has failed to start again at least once: it now waits, sockets closed
    while "starting it again in" not in service.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    answered = 0
    for _ in range(12):  # new connections, each spread by the kernel: none may wait for the missing worker
        with httpx.Client(timeout=3) as fresh:
            answered += fresh.get(f"{service.http}/healthz").status_code == 200
    assert answered == 12
    key.write_bytes(kept)
    key.chmod(0o600)
    deadline = time.monotonic() + 40
    while len(children(supervisor) - {victim}) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children(supervisor) - {victim}) == 2  # the key is back: the worker serves again
    log = service.log.read_text()
    assert "hash.key was removed while detour serve runs" in log and "starting it again in" in log
    assert "a key was generated" not in log.split("serving on", 1)[1]  # no worker made a key of its own
    with contextlib.suppress(StopIteration):
        next(service_iter)
