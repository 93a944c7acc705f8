"""POST /v1/inspect and the probes, through the ASGI app (httpx transport)."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import CORPUS
from tests.factories import AppClient

LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = Runtime.build(settings.model_copy(update={"max_upload_bytes": LIMIT}))
    yield built
    built.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> AppClient:
    return AppClient.with_token(create_app(runtime.settings, runtime))


def test_multipart_upload_returns_the_decision_json(client: AppClient) -> None:
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    response = client.post("/v1/inspect", files={"file": ("customers_q3.csv", blob, "text/csv")},
                           data={"destination": "https://wetransfer.com/", "user": "anna", "group": "marketing"})
    assert response.status_code == 200
    report = response.json()
    assert report["decision"] == "block"
    assert response.headers["X-Detour-Decision"] == report["decision_id"]
    assert response.headers["Cache-Control"] == "no-store"  # a decision is nobody else's to keep
    assert report["user"] == "anna" and report["group"] == "marketing"
    assert report["destination"]["host"] == "wetransfer.com"
    assert report["alternatives"][0]["id"] == "partner-sharepoint"
    assert report["helpdesk"]["reference"] == report["decision_id"]


def test_every_corpus_file_gets_its_labelled_decision(
    client: AppClient, corpus_labels: dict[str, dict[str, str]]
) -> None:
    files = [("file", (name, (CORPUS / name).read_bytes())) for name in sorted(corpus_labels)]
    response = client.post("/v1/inspect", files=files, data={"destination": "https://wetransfer.com/"})
    assert response.status_code == 200
    got = {report["file"]: report["decision"] for report in response.json()}
    assert got == {name: label["expect"] for name, label in corpus_labels.items()}


def test_several_files_give_a_list_in_order(client: AppClient) -> None:
    files = [("file", (name, (CORPUS / name).read_bytes())) for name in ("products.csv", "ssn_note.txt")]
    response = client.post("/v1/inspect", files=files)
    assert response.status_code == 200
    assert [(r["file"], r["decision"]) for r in response.json()] == [("products.csv", "allow"),
                                                                      ("ssn_note.txt", "block")]


def test_raw_body_with_headers(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=(CORPUS / "segment.json").read_bytes(),
                           headers={"X-Detour-Filename": "segment%20q3.json", "X-Detour-Destination": "dropbox.com",
                                    "Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    report = response.json()
    assert (report["file"], report["decision"]) == ("segment q3.json", "block")
    assert report["destination"]["category"] == "personal_file_sharing"


def test_raw_body_file_name_from_content_disposition(client: AppClient) -> None:
    response = client.post("/v1/inspect?destination=wetransfer.com", content=b"hello",
                           headers={"Content-Disposition": "attachment; filename*=UTF-8''kunder%C3%A5.csv"})
    assert response.json()["file"] == "kunderå.csv"


@pytest.mark.parametrize(("header", "language", "word"),
                         [("sv-SE,sv;q=0.9,en;q=0.5", "sv", "Tyvärr"), ("nl", "nl", "Sorry"),
                          ("de-DE, nl;q=0.4", "nl", "Sorry"), ("fr", "en", "Sorry")])
def test_accept_language_picks_the_language(client: AppClient, header: str, language: str, word: str) -> None:
    response = client.post("/v1/inspect", content=(CORPUS / "ssn_note.txt").read_bytes(),
                           headers={"Accept-Language": header})
    report = response.json()
    assert report["language"] == language
    assert report["helpdesk"]["message"].startswith(word)


def test_lang_query_overrides_accept_language(client: AppClient) -> None:
    response = client.post("/v1/inspect?lang=sv", content=b"SSN 536-22-1234", headers={"Accept-Language": "nl"})
    assert response.json()["language"] == "sv"


def test_empty_raw_body_is_a_clear_400(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"")
    assert response.status_code == 400
    assert "body is empty" in response.json()["error"]["message"]


def test_form_without_a_file_is_a_clear_400(client: AppClient) -> None:
    response = client.post("/v1/inspect", data={"destination": "x"}, files={"not_a_file": (None, "text")})
    assert response.status_code == 400
    assert "no file part" in response.json()["error"]["message"]


@pytest.mark.parametrize("body", [b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken", b"--x\r\n\x00\x01"])
def test_a_form_that_does_not_parse_is_decided_by_the_policy(client: AppClient, runtime: Runtime,
                                                             body: bytes) -> None:
    response = client.post("/v1/inspect?destination=wetransfer.com", content=body,
                           headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 200
    report = response.json()
    assert (report["decision"], report["reasons"][0]["rule"]) == ("block", "block-unscannable-external")
    assert "the form" in report["findings"][0]["examples"][0]
    assert runtime.find(report["decision_id"]) is not None  # recorded


def test_a_form_without_a_boundary_is_decided_by_the_policy(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"abc", headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 200
    assert response.json()["findings"][0]["examples"] == ["the form has no boundary, so its files can't be found"]


def test_an_upload_over_the_limit_is_decided_by_the_policy_with_its_true_size_and_digest(
        client: AppClient, runtime: Runtime) -> None:
    blob = b"a" * (2 * LIMIT)
    response = client.post("/v1/inspect?destination=dropbox.com", content=blob)
    assert response.status_code == 200
    report = response.json()
    assert (report["decision"], report["size"], report["sha256"]) == ("block", len(blob),
                                                                      hashlib.sha256(blob).hexdigest())
    assert "larger than the limit" in report["findings"][0]["examples"][0]
    assert runtime.find(report["decision_id"]) is not None


def test_a_file_over_the_limit_in_a_form_is_decided_and_the_other_files_too(client: AppClient) -> None:
    files = [("file", ("big.csv", b"x" * (LIMIT + 10))), ("file", ("note.txt", b"see you at noon"))]
    response = client.post("/v1/inspect?destination=dropbox.com", files=files)
    assert [(r["file"], r["decision"], r["size"]) for r in response.json()] == [
        ("big.csv", "block", LIMIT + 10), ("note.txt", "allow", 15)]


def test_binary_garbage_is_decided_not_crashed(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=bytes(range(256)) * 100)
    assert response.status_code == 200
    report = response.json()
    assert report["decision"] == "block"
    assert report["reasons"][0]["rule"] == "block-unscannable-external"
    assert "can't be read" in report["findings"][0]["examples"][0]


def test_health_and_readiness(client: AppClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["detectors"] >= 10 and ready["policy"]["name"] == "default"


def test_openapi_documents_the_inspect_endpoint(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/inspect"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/octet-stream"} <= body.keys()
    assert client.get("/docs").status_code == 200


def test_a_streamed_quarter_gigabyte_body_is_decided_in_bounded_memory(client: AppClient) -> None:
    chunk = b"\0" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(256):
            yield chunk

    tracemalloc.start()
    try:
        response = client.post("/v1/inspect", content=body(), headers={"X-Detour-Filename": "huge.bin"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    report = response.json()
    assert (report["decision"], report["size"]) == ("block", 256 * len(chunk))
    assert peak < 24 * 1024 * 1024, f"{peak // 1024 // 1024} MB held for a 256 MB body"  # the limit is 2 MB
