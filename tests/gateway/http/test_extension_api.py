"""What the browser extension needs of the API: CORS for the extension origins IT names (and nobody else), how the
policy sees a site (on_error, for when Detour can't be reached), a decision by its reference, the channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import CORPUS
from tests.factories import AppClient

EXTENSION = "chrome-extension://" + "abcdefghijklmnop" * 2
OTHER_EXTENSION = "chrome-extension://" + "ponmlkjihgfedcba" * 2
CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


@pytest.fixture(scope="module")
def runtime(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("extension-api")
    built = Runtime.build(settings.model_copy(update={"api_auth": "required", "data_dir": tmp / "data",
                                                      "extension_origins": f"{EXTENSION}, moz-extension://"
                                                                           "0f2e7b1c-3a4d-4e5f-8a9b-0c1d2e3f4a5b"}))
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> Any:
    return create_app(runtime.settings, runtime)


def preflight(app: Any, origin: str) -> Any:
    return AppClient(app).request("OPTIONS", "/v1/inspect", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, x-detour-filename, x-detour-destination, x-detour-channel"})


def test_the_named_extension_may_call_the_api_from_the_browser(app: Any) -> None:
    answer = preflight(app, EXTENSION)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == EXTENSION
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-detour-filename", "x-detour-destination", "x-detour-channel"} <= allowed
    client = AppClient.with_token(app)
    inspected = client.post("/v1/inspect", content=b"Notes for Monday.", headers={
        "Origin": EXTENSION, "X-Detour-Filename": "notes.txt", "X-Detour-Destination": "https://wetransfer.com/"})
    assert inspected.status_code == 200
    assert inspected.headers["access-control-allow-origin"] == EXTENSION
    assert "X-Detour-Decision" in inspected.headers["access-control-expose-headers"]


@pytest.mark.parametrize("origin", [OTHER_EXTENSION, "https://wetransfer.com", "null"])
def test_no_other_origin_may(app: Any, origin: str) -> None:
    answer = preflight(app, origin)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    called = AppClient.with_token(app).get("/v1/destinations", params={"url": "https://wetransfer.com"},
                                           headers={"Origin": origin})
    assert "access-control-allow-origin" not in called.headers  # the browser keeps the answer from the page


def test_without_extension_origins_there_is_no_cors_at_all(settings: Settings, tmp_path: Any) -> None:
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data"}))
    try:
        answer = preflight(create_app(runtime.settings, runtime), EXTENSION)
        assert "access-control-allow-origin" not in answer.headers
    finally:
        runtime.close()


@pytest.mark.parametrize("listing", ["https://evil.example", "chrome-extension://short",
                                     "chrome-extension://" + "z" * 32, "*"])
def test_an_origin_that_is_not_an_extensions_is_refused_at_start(listing: str) -> None:
    with pytest.raises(ValidationError, match="DETOUR_EXTENSION_ORIGINS"):
        Settings(extension_origins=listing)


@pytest.mark.parametrize("url, sanctioned, on_error", [
    ("https://wetransfer.com/upload", False, "block"),
    ("corp-example.sharepoint.com", True, "allow"),
])
def test_how_the_policy_sees_a_site(app: Any, url: str, sanctioned: bool, on_error: str) -> None:
    answer = AppClient.with_token(app).get("/v1/destinations", params={"url": url})
    assert answer.status_code == 200
    assert answer.json()["sanctioned"] is sanctioned and answer.json()["on_error"] == on_error


def test_the_api_answers_only_callers_with_a_token(app: Any) -> None:
    assert AppClient(app).get("/v1/destinations", params={"url": "https://wetransfer.com"}).status_code == 401
    assert AppClient(app).get("/v1/decisions/DTR-AAAA-BBBB-CCCC-DDDD").status_code == 401
    too_long = AppClient.with_token(app).get("/v1/destinations", params={"url": "https://a.example/" + "x" * 9000})
    assert too_long.status_code == 400 or too_long.status_code == 422


def test_a_decision_by_its_reference_in_the_asked_language(app: Any, runtime: Runtime) -> None:
    client = AppClient.with_token(app)
    made = client.post("/v1/inspect", content=CONTACTS, headers={
        "X-Detour-Filename": "customers.csv", "X-Detour-Destination": "https://wetransfer.com/",
        "X-Detour-Channel": "extension", "X-Detour-User": "e.lindqvist"}).json()
    assert runtime.recorder.flush(30)
    again = client.get(f"/v1/decisions/{made['decision_id']}", headers={"Accept-Language": "sv"})
    assert again.status_code == 200
    report = again.json()
    assert report["decision"] == "block" and report["language"] == "sv"
    assert report["alternatives"][0]["title"] == "Partnerplatsen i SharePoint med gäståtkomst"
    assert report["user"] == "e.lindqvist"
    assert client.get("/v1/decisions/DTR-AAAA-BBBB-CCCC-DDDD").status_code == 404
    with runtime.store.session() as session:
        from gateway.store.models import DecisionRow

        row = session.get(DecisionRow, made["decision_id"])
        assert row is not None and row.channel == "extension"


def test_a_channel_other_than_api_or_extension_is_a_clear_error(app: Any) -> None:
    answer = AppClient.with_token(app).post("/v1/inspect", content=b"notes", headers={
        "X-Detour-Filename": "notes.txt", "X-Detour-Destination": "https://wetransfer.com/",
        "X-Detour-Channel": "icap"})
    assert answer.status_code == 400
    assert "X-Detour-Channel" in answer.json()["error"]["message"]
