"""One way through: the same uploads, sent through every channel, get the same decision, and each is recorded.

The channels as their clients use them: ``POST /v1/inspect`` and ``POST /v1/intercept`` (the ASGI app),
ICAP (the server on a real loopback socket) and the CLI (``detour scan``, in this process, writing to the
same store). The cases include what goes wrong: an inspection that runs out of time, an extraction
worker that is killed while it reads, a body over the upload limit and a body that does not parse. None
answers 5xx; every one is decided by the policy and recorded.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.cli import main
from gateway.http.app import create_app
from gateway.icap.server import IcapServer
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.models import DecisionRow
from tests import files
from tests.conftest import CORPUS, POLICIES
from tests.factories import AppClient, extraction_workers
from tests.icap_client import exchange, reqmod, serving

LIMIT = 1024 * 1024
SITE = "https://share.files-example.net/upload"  # an external site IT has not approved
SLOW_IMAGE = files.png_with_text([f"line {i} of a scanned page of meeting notes" for i in range(60)])  # OCR: ~2 s
BROKEN_FORM = b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\n\r\nname,email\r\nA"


@dataclass(frozen=True)
class Case:
    id: str
    file: bytes  # what the CLI scans, and the raw body of the other channels
    expect: str  # block | allow
    why: str  # the rule that decides, or what was found
    form: bytes | None = None  # the channels' body instead of the raw file: a multipart form
    hurried: bool = False  # a deadline shorter than the inspection takes
    kill: bool = False  # the extraction worker is killed while it reads


CASES = [
    Case("contacts", (CORPUS / "customers_q3.csv").read_bytes(), "block", "block-contact-lists-external"),
    Case("benign", (CORPUS / "products.csv").read_bytes(), "allow", ""),
    Case("encrypted-archive", files.mark_zip_encrypted(files.zip_of([("c.csv", "name,email\nA,a@example.com\n")])),
         "block", "is encrypted"),
    Case("timeout", SLOW_IMAGE, "block", "internal-timeout", hurried=True),
    Case("killed-worker", SLOW_IMAGE, "block", "could not be read safely", kill=True),
    Case("over-the-limit", b"sku,name,price\n" + b"P0001,lamp,9.99\n" * (LIMIT // 16 + 100), "block",
         "larger than the limit"),
    # The CLI reads files, not forms: its counterpart of a body that does not parse is a file that does not.
    Case("does-not-parse", files.zip_of([("c.csv", "name\nA\n")])[:-30], "block", "can't", form=BROKEN_FORM),
]
CHANNELS = ["api", "extension", "intercept", "icap", "cli"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("channels")


@pytest.fixture(scope="module")
def variants(settings: Settings, folder: Path) -> Iterator[dict[bool, Runtime]]:
    """The gateway as configured, and the same gateway in a hurry; both write to one store."""
    common = {"data_dir": folder / "data", "max_upload_bytes": LIMIT, "policies_dir": POLICIES,
              "audit_log": folder / "audit.jsonl"}
    runtimes = {False: Runtime.build(settings.model_copy(update=common)),
                True: Runtime.build(settings.model_copy(update={**common, "inspect_seconds": 0.3}))}
    yield runtimes
    for runtime in runtimes.values():
        runtime.close()


@pytest.fixture(scope="module")
def icap_ports(variants: dict[bool, Runtime]) -> Iterator[dict[bool, int]]:
    with serving(IcapServer(variants[False].pipeline)) as normal, \
            serving(IcapServer(variants[True].pipeline)) as hurried:
        yield {False: normal, True: hurried}


@dataclass(frozen=True)
class Answer:
    action: str
    decision_id: str | None  # None: an allow that the channel answers without a body (204)


def send_api(client: AppClient, case: Case, name: str) -> Answer:
    content_type = "multipart/form-data; boundary=x" if case.form else "application/octet-stream"
    response = client.post(f"/v1/inspect?destination={SITE}&filename={name}", content=case.form or case.file,
                           headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    report = response.json()
    return Answer(report["decision"], report["decision_id"])


def send_extension(client: AppClient, case: Case, name: str) -> Answer:
    """As the browser extension sends a file it caught in a page: the raw file (never a form), its name and
    the page's address in headers."""
    response = client.post("/v1/inspect", content=case.file, headers={
        "Content-Type": "application/octet-stream", "X-Detour-Filename": name, "X-Detour-Destination": SITE,
        "X-Detour-Channel": "extension", "Accept-Language": "sv-SE, sv;q=0.9, en;q=0.8"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["language"] == "sv"
    return Answer(report["decision"], report["decision_id"])


def send_intercept(client: AppClient, case: Case, name: str) -> Answer:
    content_type = "multipart/form-data; boundary=x" if case.form else "text/csv"
    response = client.post("/v1/intercept", content=case.form or case.file, headers={
        "X-Detour-Request-Method": "POST", "X-Detour-Request-Url": f"{SITE}/{name}",
        "X-Detour-Request-Content-Type": content_type, "X-Detour-Request-Accept": "application/json"})
    assert response.status_code in (204, 403), response.text
    if response.status_code == 204:
        return Answer("allow", None)
    return Answer(response.json()["decision"], response.headers["X-Detour-Decision"])


def send_icap(port: int, case: Case, name: str) -> Answer:
    content_type = "multipart/form-data; boundary=x" if case.form else "text/csv"
    head = (f"POST {SITE}/{name} HTTP/1.1\r\nHost: share.files-example.net\r\nContent-Type: {content_type}\r\n"
            "Accept: application/json\r\n\r\n").encode()
    answer = exchange(port, *reqmod(head, case.form or case.file))
    if answer.startswith(b"ICAP/1.0 204"):
        return Answer("allow", None)
    assert answer.startswith(b"ICAP/1.0 200") and b"HTTP/1.1 403 Forbidden" in answer, answer[:300]
    decision_id = answer.split(b"X-Detour-Decision: ", 1)[1].split(b"\r\n", 1)[0].decode()
    return Answer("block", decision_id)


def send_cli(case: Case, name: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> Answer:
    path = folder / name
    path.write_bytes(case.file)
    capsys.readouterr()
    status = main(["scan", "--record", "--format", "json", "--destination", SITE, str(path)])  # kept, as asked
    report = json.loads(capsys.readouterr().out)
    assert status == (1 if report["decision"] == "block" else 0)
    return Answer(report["decision"], report["decision_id"])


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_channel_decides_the_same_and_records_it(case: Case, channel: str, variants: dict[bool, Runtime],
                                                       icap_ports: dict[bool, int], folder: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    runtime = variants[case.hurried]
    name = f"{case.id}-{channel}.{'png' if case.file is SLOW_IMAGE else 'csv'}"
    client = AppClient(create_app(runtime.settings, runtime))
    for key, value in {"DETOUR_DATA_DIR": runtime.settings.data_dir, "DETOUR_POLICIES_DIR": POLICIES,
                       "DETOUR_MAX_UPLOAD_BYTES": LIMIT, "DETOUR_INSPECT_SECONDS": runtime.pipeline.deadline,
                       "DETOUR_HASH_KEY": "a key for the channel tests"}.items():
        monkeypatch.setenv(key, str(value))
    send: dict[str, Callable[[], Answer]] = {
        "api": lambda: send_api(client, case, name),
        "extension": lambda: send_extension(client, case, name),
        "intercept": lambda: send_intercept(client, case, name),
        "icap": lambda: send_icap(icap_ports[case.hurried], case, name),
        "cli": lambda: send_cli(case, name, folder, capsys),
    }
    with killing_workers(case.kill) as kills:
        answer = send[channel]()
    assert not case.kill or kills, "no extraction worker was running to be killed"
    assert answer.action == case.expect
    record = recorded(runtime, answer, name, channel)
    assert (record.decision, record.channel) == (case.expect, "intercept" if channel == "intercept" else channel)
    assert case.why in _why(record), _why(record)


def recorded(runtime: Runtime, answer: Answer, name: str, channel: str) -> DecisionRow:
    """The one decision recorded for this upload: by its reference, or (a 204 names none) by its name."""
    runtime.recorder.flush()  # the store is written off the answer's path
    with runtime.store.session() as session:
        if answer.decision_id is not None:
            row = session.get(DecisionRow, answer.decision_id)
            assert row is not None, f"{answer.decision_id} was answered but not recorded"
            return row
        rows = session.scalars(select(DecisionRow).where(DecisionRow.file_name == name,
                                                         DecisionRow.channel == channel)).all()
        assert len(rows) == 1, f"{len(rows)} decisions recorded for {name}"
        return rows[0]


def _why(row: DecisionRow) -> str:
    """The rules that decided, and the masked examples of what was found (notes for unscannable content)."""
    report: dict[str, Any] = row.report
    return " ".join(row.rules + [e for f in report["findings"] for e in f["examples"]])


# --- hostile metadata: still an answer, still recorded ------------------------------------------------

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


@dataclass(frozen=True)
class Hostile:
    id: str
    url: str = SITE + "/upload"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = CONTACTS
    expect: str = "block"


HOSTILE = [
    Hostile("url-that-does-not-parse", url="http://[::1/upload"),
    Hostile("disposition-that-does-not-parse", headers=(("Content-Disposition", "attachment; filename*=x; "
                                                                              "filename*0*=y"),)),
    Hostile("charset-of-its-own", headers=(("Content-Disposition", "attachment; filename*=unicode_escape''"
                                                                   "%5Cud800.csv"),)),
    Hostile("boundary-too-long", headers=(("Content-Type", "multipart/form-data; boundary=" + "b" * 300),),
            body=b"--" + b"b" * 300 + b"\r\nContent-Disposition: form-data; name=f; filename=a.csv\r\n\r\n" +
            CONTACTS + b"\r\n--" + b"b" * 300 + b"--\r\n"),
    Hostile("file-sent-as-a-form", headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
]


@pytest.mark.parametrize("channel", ["api", "intercept", "icap"])
@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_request_metadata_is_decided_and_recorded(case: Hostile, channel: str,
                                                          variants: dict[bool, Runtime],
                                                          icap_ports: dict[bool, int]) -> None:
    runtime = variants[False]
    headers = dict(case.headers)
    headers.setdefault("Content-Type", "text/csv")
    if channel == "api":
        client = AppClient(create_app(runtime.settings, runtime))
        response = client.post("/v1/inspect", params={"destination": case.url}, content=case.body, headers=headers)
        assert response.status_code == 200, response.text
        answer = Answer(response.json()["decision"], response.json()["decision_id"])
    elif channel == "intercept":
        client = AppClient(create_app(runtime.settings, runtime))
        forwarded = {f"X-Detour-Request-{k}": v for k, v in headers.items()}
        response = client.post("/v1/intercept", content=case.body, headers={
            "X-Detour-Request-Method": "POST", "X-Detour-Request-Url": case.url,
            "X-Detour-Request-Accept": "application/json", **forwarded})
        assert response.status_code == 403, response.text
        answer = Answer(response.json()["decision"], response.headers["X-Detour-Decision"])
    else:
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head = f"POST {case.url} HTTP/1.1\r\nHost: share.files-example.net\r\nAccept: application/json\r\n{lines}\r\n"
        raw = exchange(icap_ports[False], *reqmod(head.encode(), case.body))
        assert b"HTTP/1.1 403 Forbidden" in raw, raw[:300]
        answer = Answer("block", raw.split(b"X-Detour-Decision: ", 1)[1].split(b"\r\n", 1)[0].decode())
    assert answer.action == case.expect
    runtime.recorder.flush()  # the store is written off the answer's path
    with runtime.store.session() as session:
        row = session.get(DecisionRow, answer.decision_id)
        assert row is not None and row.decision == case.expect
        assert row.file_name.isprintable()


# --- killing extraction workers ----------------------------------------------------------------


@contextmanager
def killing_workers(active: bool) -> Iterator[list[int]]:
    """While active, SIGKILL every extraction worker this process's forkserver starts; yields the pids killed."""
    killed: list[int] = []
    done = threading.Event()

    def hunt() -> None:
        while not done.wait(0.01):
            for pid in extraction_workers():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass

    hunter = threading.Thread(target=hunt, daemon=True)
    if active:
        hunter.start()
    try:
        yield killed
    finally:
        done.set()
        if active:
            hunter.join(timeout=5)
