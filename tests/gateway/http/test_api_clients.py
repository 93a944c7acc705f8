"""Who is asking: API client tokens (DETOUR_API_AUTH), who may name users, what is recorded about the caller."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.errors import DetourError
from gateway.http.app import create_app
from gateway.records import Channel, Envelope
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.clients import ApiClients, ClientsUnavailable
from gateway.store.models import ClientRow, DecisionRow
from tests.conftest import CORPUS, policies_with_warnings
from tests.factories import AppClient
from tests.files import invoice

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
BENIGN = b"Meeting notes: the spring campaign starts in May.\n"
SITE = "https://wetransfer.com/upload"


@pytest.fixture(scope="module")
def runtime(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """Tokens required (as in production), warnings for bank account numbers (something to justify)."""
    tmp = tmp_path_factory.mktemp("clients")
    built = Runtime.build(settings.model_copy(update={"api_auth": "required", "data_dir": tmp / "data",
                                                      "policies_dir": policies_with_warnings(tmp)}))
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> Any:
    return create_app(runtime.settings, runtime)


def token_client(app: Any, name: str, may_assert_user: bool = False) -> AppClient:
    token = app.state.runtime.clients.create(name, may_assert_user)
    return AppClient(app, {"Authorization": f"Bearer {token}"})


def raw(client: AppClient, blob: bytes = BENIGN, **headers: str) -> Any:
    return client.post("/v1/inspect", content=blob, params={"filename": "notes.txt", "destination": SITE},
                       headers=headers)


def row(runtime: Runtime, decision_id: str) -> DecisionRow:
    assert runtime.recorder.flush(30)
    with runtime.store.session() as session:
        found = session.get(DecisionRow, decision_id)
        assert found is not None
        return found


def test_without_a_token_every_api_route_answers_401(app: Any, runtime: Runtime) -> None:
    anonymous = AppClient(app)
    with runtime.store.session() as session:
        before = len(session.scalars(select(DecisionRow.id)).all())
    answers = [raw(anonymous),
               anonymous.post("/v1/intercept", content=CONTACTS, headers={
                   "X-Detour-Request-Method": "POST", "X-Detour-Request-Url": SITE}),
               anonymous.post("/v1/decisions/DTR-0000-0000-0000-0000/justification",
                              json={"justification": "The supplier needs the invoice."})]
    answers.append(anonymous.post("/v1/inspect/", content=BENIGN))  # no redirect built from the Host header
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "detour client token create" in answer.json()["error"]["message"]
    assert runtime.recorder.flush(30)
    with runtime.store.session() as session:
        assert len(session.scalars(select(DecisionRow.id)).all()) == before  # nothing was inspected
    # the pages people open are not API routes: a decision's page needs only its reference
    assert anonymous.get("/healthz").status_code == 200


def test_a_caller_without_a_token_is_answered_before_its_body_is_read(app: Any) -> None:
    """Whatever it says it will send: no 100 Continue, no parsing, no memory taken."""
    sent: list[int] = []

    async def body() -> Any:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 65536

    anonymous = AppClient(app)
    for path in ("/v1/decisions/DTR-0000-0000-0000-0000/justification", "/v1/inspect", "/v1/intercept"):
        sent.clear()
        answer = anonymous.post(path, content=body(), headers={"Content-Type": "application/json"})
        assert answer.status_code == 401 and len(sent) <= 1, (path, len(sent))


def test_a_reason_is_a_few_fields_not_an_upload(app: Any) -> None:
    portal = token_client(app, "big-reasons", may_assert_user=True)
    answer = portal.post("/v1/decisions/DTR-0000-0000-0000-0000/justification",
                         json={"justification": "x" * 100_000})
    assert answer.status_code == 413 and "64 KB" in answer.json()["error"]["message"]


@pytest.mark.parametrize("authorization", ["", "Bearer dtr_not-a-token", "Basic YW5uYTpzZWNyZXQ=", "Bearer ",
                                           "dtr_without-a-scheme", "Bearer " + "dtr_" + "x" * 500])
def test_a_wrong_token_is_refused_also_where_tokens_are_optional(make_runtime: Any, tmp_path: Path,
                                                                   authorization: str) -> None:
    optional = make_runtime(api_auth="optional", data_dir=tmp_path / "data")
    answer = raw(AppClient(create_app(optional.settings, optional), {"Authorization": authorization}))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"


def test_where_tokens_are_optional_an_anonymous_caller_is_recorded_by_its_address(make_runtime: Any,
                                                                                 tmp_path: Path) -> None:
    optional = make_runtime(api_auth="optional", data_dir=tmp_path / "data")
    anonymous = AppClient(create_app(optional.settings, optional))
    answer = raw(anonymous)
    assert answer.status_code == 200 and answer.json()["decision"] == "allow"
    stored = row(optional, answer.json()["decision_id"])
    assert stored.client_ip == "127.0.0.1" and stored.api_client is None and stored.user is None
    refused = raw(anonymous, **{"X-Detour-User": "anna.berg"})
    assert refused.status_code == 403 and "--may-assert-user" in refused.json()["error"]["message"]


def test_the_default_is_required_in_production_and_optional_in_development() -> None:
    assert Settings(environment="production", hash_key="k" * 32).api_auth_required
    assert not Settings(environment="development").api_auth_required
    assert not Settings(environment="production", hash_key="k" * 32, api_auth="optional").api_auth_required
    assert Settings(api_auth="required").api_auth_required


def test_a_token_is_kept_only_as_its_hash(app: Any, runtime: Runtime) -> None:
    token = runtime.clients.create("hash-check", may_assert_user=False)
    assert token.startswith("dtr_") and len(token) >= 40
    with runtime.store.session() as session:
        kept = session.scalars(select(ClientRow).where(ClientRow.name == "hash-check")).one()
    assert kept.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    for path in (runtime.settings.data_dir).rglob("*"):  # the database, its journal, the spool
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert raw(AppClient(app, {"Authorization": f"Bearer {token}"})).status_code == 200


def test_a_client_that_may_not_name_users_is_refused_when_it_names_one(app: Any) -> None:
    script = token_client(app, "backup-script")
    for header in ("X-Detour-User", "X-Detour-Group", "X-Detour-Client-Ip"):
        answer = raw(script, **{header: "10.1.2.3" if header.endswith("Ip") else "anna.berg"})
        assert answer.status_code == 403, header
        assert "'backup-script' may not say on whose behalf" in answer.json()["error"]["message"]
    portal = token_client(app, "addr-portal", may_assert_user=True)
    for odd in ("10.0.0.5\" \"POST /admin", "10.7.7.7%zone", "localhost"):  # an IP address, nothing else
        assert raw(portal, **{"X-Detour-Client-Ip": odd}).status_code == 400, odd
    assert raw(portal, **{"X-Detour-Client-Ip": "fe80::1%eth0"}).status_code == 200
    form = script.post("/v1/inspect", files={"file": ("notes.txt", BENIGN)},
                       data={"destination": SITE, "user": "anna.berg"})
    assert form.status_code == 403
    intercepted = script.post("/v1/intercept", content=BENIGN, headers={
        "X-Detour-Request-Method": "POST", "X-Detour-Request-Url": SITE, "X-Detour-User": "anna.berg"})
    assert intercepted.status_code == 403


def test_the_callers_address_and_client_are_always_recorded(app: Any, runtime: Runtime) -> None:
    script = token_client(app, "report-bot")
    answer = raw(script, CONTACTS)
    assert answer.status_code == 200 and answer.json()["decision"] == "block"
    stored = row(runtime, answer.json()["decision_id"])
    assert (stored.api_client, stored.client_ip, stored.user) == ("report-bot", "127.0.0.1", None)
    assert stored.who is not None  # the address stands for the person: what it justifies is its own


def test_a_client_allowed_to_name_users_names_them(app: Any, runtime: Runtime) -> None:
    portal = token_client(app, "intranet-portal", may_assert_user=True)
    answer = raw(portal, CONTACTS, **{"X-Detour-User": "anna.berg", "X-Detour-Group": "marketing",
                                      "X-Detour-Client-Ip": "10.20.30.40"})
    assert answer.status_code == 200
    report = answer.json()
    assert (report["user"], report["group"]) == ("anna.berg", "marketing")
    stored = row(runtime, report["decision_id"])
    assert (stored.api_client, stored.client_ip, stored.user) == ("intranet-portal", "10.20.30.40", "anna.berg")


def test_revoked_rotated_and_expired_tokens_stop_working(app: Any, runtime: Runtime) -> None:
    clients = runtime.clients
    revoked = token_client(app, "old-addon")
    assert raw(revoked).status_code == 200
    clients.revoke("old-addon")
    assert raw(revoked).status_code == 401
    rotated = token_client(app, "rotating-addon")
    fresh = AppClient(app, {"Authorization": f"Bearer {clients.rotate('rotating-addon')}"})
    assert raw(rotated).status_code == 401 and raw(fresh).status_code == 200
    expiring = AppClient(app, {"Authorization": f"Bearer {clients.create('short-lived', False, days=1)}"})
    assert raw(expiring).status_code == 200
    with runtime.store.session() as session, session.begin():  # a day later
        session.execute(update(ClientRow).where(ClientRow.name == "short-lived")
                        .values(expires=datetime.now(UTC) - timedelta(minutes=1)))
    clients.refresh()
    assert raw(expiring).status_code == 401
    listed = {c.name: c for c in clients.listing()}
    assert listed["old-addon"].revoked is not None and listed["short-lived"].expires is not None


def test_justified_by_is_only_returned_to_the_same_person(app: Any, runtime: Runtime) -> None:
    """A reason given for anna's warning lets anna's same file go to the same site: nobody else learns of it,
    and a client that can't name users can't pass for her."""
    portal = token_client(app, "sso-portal", may_assert_user=True)
    blob = invoice(7373)
    warned = raw(portal, blob, **{"X-Detour-User": "anna.berg"}).json()
    assert warned["decision"] == "warn"
    justified = portal.post(f"/v1/decisions/{warned['decision_id']}/justification",
                            json={"justification": "The supplier needs the invoice today."})
    assert justified.status_code == 200 and justified.json()["justified"]
    assert raw(portal, blob, **{"X-Detour-User": "anna.berg"}).json()["justified_by"] == warned["decision_id"]
    assert raw(portal, blob, **{"X-Detour-User": "bert.ek"}).json()["justified_by"] is None
    script = token_client(app, "someone-else")
    assert raw(script, blob).json()["justified_by"] is None
    assert raw(script, blob, **{"X-Detour-User": "anna.berg"}).status_code == 403


def test_two_programs_on_one_host_are_not_one_person(app: Any) -> None:
    """Clients that can't name users are known by their address as each of them sees it: a reason one of
    them gave does not let the other's upload through, though both call from the same host."""
    first, second = token_client(app, "first-script"), token_client(app, "second-script")
    blob = invoice(8484)
    warned = raw(first, blob).json()
    assert warned["decision"] == "warn"
    assert first.post(f"/v1/decisions/{warned['decision_id']}/justification",
                      json={"justification": "The supplier needs the invoice today."}).status_code == 200
    assert raw(first, blob).json()["justified_by"] == warned["decision_id"]
    assert raw(second, blob).json()["justified_by"] is None


def test_a_new_token_works_at_once_on_every_instance(runtime: Runtime) -> None:
    """Two instances on one store: a token one of them makes (the CLI) is known to the other at once; a
    revocation reaches the other when it reads the clients again (within REFRESH_SECONDS)."""
    serving, cli = ApiClients(runtime.store), ApiClients(runtime.store)
    serving.refresh()
    token = cli.create("made-elsewhere", may_assert_user=False)
    assert serving.find(token) is not None
    cli.revoke("made-elsewhere")
    serving.refresh()
    assert serving.find(token) is None


def test_known_tokens_keep_working_while_the_store_cannot_be_read(make_runtime: Any, tmp_path: Path) -> None:
    """The store's file is gone (a disk or database outage): tokens read before keep working and the
    decision waits in the spool; where no token was ever read, the API says to try again (503)."""
    built = make_runtime(api_auth="required", data_dir=tmp_path / "data")
    app = create_app(built.settings, built)
    script = token_client(app, "outage-script")
    assert raw(script).status_code == 200
    database = tmp_path / "data" / "detour.db"
    assert built.recorder.flush(30)
    built.store.engine.dispose()
    database.rename(tmp_path / "away.db")
    database.mkdir()  # nothing can open the database now
    try:
        built.clients.refresh()  # it tries, and keeps what it read before
        during = raw(script)
        assert during.status_code == 200 and during.json()["decision"] == "allow"
        never_read = ApiClients(built.store)
        with pytest.raises(ClientsUnavailable):
            never_read.refresh()
        built.clients = never_read
        unknown = raw(script)
        assert unknown.status_code == 503 and unknown.headers["Retry-After"]
    finally:
        database.rmdir()
        shutil.move(tmp_path / "away.db", database)
        built.clients = ApiClients(built.store)


def test_the_access_log_names_routes_not_what_was_sent(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A path may carry a value or a line break (a forged audit line); the access line shows the route."""
    portal = token_client(app, "log-check", may_assert_user=True)
    stopped = raw(portal, CONTACTS).json()["decision_id"]
    with caplog.at_level("INFO", logger="detour.access"):
        AppClient(app).get(f"/d/{stopped}")
        AppClient(app).post("/v1/nothing%0aINFO%20detour.audit:%20%7B%22decision_id%22:%22FORGED%22%7D",
                            headers={"Authorization": portal.headers["Authorization"]})
        AppClient(app).get("/811218-9876/payslip")
        AppClient(app).get("/healthz")  # a probe: every few seconds from every load balancer, at DEBUG
    lines = [r.getMessage() for r in caplog.records if r.name == "detour.access"]
    assert not any("/healthz" in line for line in lines), lines
    assert any('"GET /d/{decision_id}" 200' in line for line in lines), lines
    assert any('"POST /v1/… (no route)" 404' in line for line in lines), lines
    assert not any(stopped in line or "FORGED" in line or "\n" in line or "811218" in line for line in lines)


def test_an_expired_client_is_rotated_with_a_new_lifetime(runtime: Runtime) -> None:
    clients = runtime.clients
    clients.create("lapsed", may_assert_user=False, days=1)
    with runtime.store.session() as session, session.begin():
        session.execute(update(ClientRow).where(ClientRow.name == "lapsed")
                        .values(expires=datetime.now(UTC) - timedelta(days=1)))
    with pytest.raises(DetourError, match="--days N"):
        clients.rotate("lapsed")
    token = clients.rotate("lapsed", days=30)
    assert clients.find(token) is not None


def test_an_anonymous_caller_is_not_the_icap_user_at_its_address(make_runtime: Any, tmp_path: Path) -> None:
    """Where tokens are optional, a program without one is known by its address as an anonymous program:
    a person uploading through the proxy from the same address is someone else."""
    optional = make_runtime(api_auth="optional", data_dir=tmp_path / "data")
    through_icap = optional.pipeline.inspect(BENIGN, Envelope("n.txt", SITE, channel=Channel.ICAP,
                                                              client_ip="127.0.0.1"))
    anonymous = raw(AppClient(create_app(optional.settings, optional))).json()
    assert row(optional, through_icap.decision_id).who != row(optional, anonymous["decision_id"]).who

