"""POST /v1/inspect and the probes, through the ASGI app (httpx transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from tests.conftest import CORPUS


class AppClient:
    """Synchronous calls into the ASGI app through httpx's ASGI transport (no server, no mocks)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://detour.test") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture(scope="module")
def client(settings: Settings) -> AppClient:
    small = settings.model_copy(update={"max_upload_bytes": 2 * 1024 * 1024})
    return AppClient(create_app(small, Pipeline.from_settings(small)))


def test_multipart_upload_returns_the_decision_json(client: AppClient) -> None:
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    response = client.post("/v1/inspect", files={"file": ("customers_q3.csv", blob, "text/csv")},
                           data={"destination": "https://wetransfer.com/", "user": "anna", "group": "marketing"})
    assert response.status_code == 200
    report = response.json()
    assert report["decision"] == "block"
    assert response.headers["X-Detour-Decision"] == report["decision_id"]
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


def test_malformed_multipart_is_a_400_not_a_500(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken",
                           headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert 400 <= response.status_code < 500


def test_multipart_without_boundary_is_a_400(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"abc", headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 400


def test_upload_over_the_limit_is_413(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"a" * (4 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"


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


def test_a_streamed_one_gigabyte_body_is_refused_at_the_limit_without_buffering_it(client: AppClient) -> None:
    sent = 0

    async def one_gigabyte() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b"\0" * (1024 * 1024)
        for _ in range(1024):
            sent += len(chunk)
            yield chunk

    response = client.post("/v1/inspect", content=one_gigabyte(), headers={"X-Detour-Filename": "huge.bin"})
    assert response.status_code == 413
    assert sent < 64 * 1024 * 1024  # reading stopped soon after the 2 MB (+ form overhead) limit


def test_a_declared_oversize_body_is_refused_before_it_is_read(client: AppClient) -> None:
    response = client.post("/v1/inspect", content=b"x" * 10, headers={"Content-Length": str(1024 ** 3)})
    assert response.status_code == 413
