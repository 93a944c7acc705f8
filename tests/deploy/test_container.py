"""The container image, built here as `make image` builds it (a base from Debian packages with mmdebstrap, the
pinned wheels downloaded beside, podman build: no registry), then run as an operator would: non-root, its data
in a volume, the policy folder mounted, ports 8080 and 1344 published; it blocks a contact list through its
API and through ICAP. The Dockerfile is hadolint-clean."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, POLICIES, ROOT
from tests.icap_client import answer_head
from tests.services import free_port, require

pytestmark = pytest.mark.slow

IMAGE = "localhost/detour:test"
CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
BENIGN = b"Agenda: budget review, venue options, next steps for the launch.\n"


def test_the_dockerfile_is_hadolint_clean() -> None:
    linted = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def podman_environment(tmp: Path) -> dict[str, str]:
    """podman as this machine allows: runc (crun refuses hybrid cgroups here) and limits no higher than this
    process's own (a container may not raise them)."""
    files = min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    processes = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    config = tmp / "containers.conf"
    runtime = "runc" if shutil.which("runc") else "crun"
    config.write_text(f'[containers]\ndefault_ulimits = ["nofile={files}:{files}", "nproc={processes}:{processes}"]'
                      f'\n[engine]\nruntime = "{runtime}"\n')
    return {**os.environ, "CONTAINERS_CONF": str(config)}


def run(command: list[str], environment: dict[str, str], seconds: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, env=environment, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    podman = require("podman", "podman")
    require("mmdebstrap", "mmdebstrap")
    tmp = tmp_path_factory.mktemp("container")
    environment = podman_environment(tmp)
    run(["bash", "deploy/container/base.sh"], environment)  # kept between runs: made when missing
    wheels = ROOT / "build" / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    run([str(Path(sys.executable)), "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "-r", "requirements-runtime.lock", "-d", str(wheels)], environment)
    run([podman, "build", "--format", "docker", "-t", IMAGE, "."], environment)
    data, policies = tmp / "data", tmp / "policies"  # the volume and the policy folder, as an operator mounts
    data.mkdir()
    if os.geteuid() == 0:
        os.chown(data, 10001, 10001)
    else:
        data.chmod(0o777)
    policies.mkdir()
    for path in POLICIES.glob("*.yaml"):
        shutil.copy(path, policies)
    http_port, icap_port = free_port(), free_port()
    name = f"detour-test-{os.getpid()}"
    run([podman, "run", "-d", "--name", name, "-p", f"127.0.0.1:{http_port}:8080", "-p", f"127.0.0.1:{icap_port}:1344",
         "-v", f"{data}:/data", "-v", f"{policies}:/etc/detour/policies:ro",
         # published ports reach Detour from the container network's gateway, not from 127.0.0.1
         "-e", "DETOUR_ICAP_CLIENTS=0.0.0.0/0", "-e", "DETOUR_HASH_KEY=" + "c" * 40, IMAGE], environment)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                logs = subprocess.run([podman, "logs", name], capture_output=True, text=True, env=environment)
                pytest.fail(f"the container did not become ready:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
            time.sleep(0.5)
        yield name, base, icap_port
    finally:
        subprocess.run([podman, "rm", "-f", "-t", "20", name], capture_output=True, env=environment, timeout=120)


def test_the_image_runs_as_its_own_user_with_tesseract_and_a_health_check(container: tuple[str, str, int],
                                                                          tmp_path: Path) -> None:
    name, _, _ = container
    environment = podman_environment(tmp_path)
    image = run(["podman", "image", "inspect", IMAGE, "--format",
                 "{{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.HealthCheck}}"],
                environment).stdout
    assert image.startswith("10001:10001 ") and '"8080/tcp"' in image and '"1344/tcp"' in image
    assert '"/data"' in image and "healthz" in image
    assert run(["podman", "exec", name, "id", "-u"], environment).stdout.strip() == "10001"
    # tini is PID 1 (it reaps what ended workers leave), detour serve its child
    assert run(["podman", "exec", name, "cat", "/proc/1/comm"], environment).stdout.strip() == "tini"
    languages = run(["podman", "exec", name, "tesseract", "--list-langs"], environment).stdout.split()
    assert {"eng", "swe", "nld"} <= set(languages)
    assert run(["podman", "healthcheck", "run", name], environment).returncode == 0


def test_a_contact_list_is_blocked_through_its_api_and_its_icap_port(container: tuple[str, str, int],
                                                                     tmp_path: Path) -> None:
    name, base, icap_port = container
    answer = httpx.post(f"{base}/v1/inspect", files={"file": ("customers.csv", CONTACTS)},
                        data={"destination": "https://wetransfer.com/"}, timeout=60)
    assert answer.status_code == 200 and answer.json()["decision"] == "block"
    for blob, expected in ((CONTACTS, b"ICAP/1.0 200"), (BENIGN, b"ICAP/1.0 204")):
        reply = answer_head(icap_port, blob)
        assert reply.startswith(expected), reply[:200]
        if blob is CONTACTS:
            assert b"403 Forbidden" in reply or b"X-Detour-Action: block" in reply
    environment = podman_environment(tmp_path)
    stored = run(["podman", "exec", name, "ls", "/data"], environment).stdout.split()
    assert "detour.db" in stored  # decisions land in the volume
