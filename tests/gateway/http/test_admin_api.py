"""IT's admin API: tokens and roles, the decisions explorer (filters, pages, exports) on real stored decisions,
review requests and their answers, and the record of what admins did.

``explorer_holds`` runs the same checks on any store: here on SQLite, in tests/e2e on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gateway.errors import DetourError
from gateway.http.app import create_app
from gateway.http.routes import admin as admin_routes
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import admin as store_admin
from gateway.store.admin import AdminTokens, Role
from gateway.store.models import AdminTokenRow, DecisionRow, ExemptionRow
from tests.conftest import CORPUS, POLICIES
from tests.factories import AppClient
from tests.services import Origin, start_origin

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
BENIGN = b"Meeting notes: the spring campaign starts in May.\n"
ADMIN_PATHS = ["/v1/admin/whoami", "/v1/admin/decisions", "/v1/admin/decisions/export",
               "/v1/admin/decisions/DTR-AAAA-BBBB-CCCC-DDDD", "/v1/admin/reviews", "/v1/admin/actions",
               "/v1/admin/metrics", "/metrics"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Origin]:
    """The helpdesk's webhook receiver."""
    for origin in start_origin():
        origin.host, origin.status, origin.answer = "127.0.0.1", 200, b"{}"
        yield origin


@pytest.fixture(scope="module")
def runtime(settings: Settings, tmp_path_factory: pytest.TempPathFactory, receiver: Origin) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("admin")
    built = Runtime.build(settings.model_copy(update={"api_auth": "required", "data_dir": tmp / "data",
                                                      "helpdesk_webhook_url": f"{receiver.url}/hooks/detour"}))
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> Any:
    return create_app(runtime.settings, runtime)


def admin_client(app: Any, role: Role, name: str | None = None) -> AppClient:
    token = app.state.runtime.admin_tokens.create(name or f"{role.value}-{secrets.token_hex(4)}", role)
    return AppClient(app, {"Authorization": f"Bearer {token}"})


def upload(app: Any, blob: bytes, name: str, destination: str, user: str, group: str) -> str:
    """An upload through POST /v1/inspect by a portal that names its users: the decision's reference."""
    sender = AppClient.with_token(app, may_assert_user=True)
    answer = sender.post("/v1/inspect", content=blob, params={"filename": name, "destination": destination},
                         headers={"X-Detour-User": user, "X-Detour-Group": group})
    assert answer.status_code == 200, answer.text
    decision_id: str = answer.json()["decision_id"]
    return decision_id


def explorer_holds(app: Any) -> None:
    """The explorer on real stored decisions: filters, counts, pages, exports, roles."""
    runtime: Runtime = app.state.runtime
    blocked = [upload(app, CONTACTS, f"customers-{i}.csv", "https://wetransfer.com/u", "anna", "marketing")
               for i in range(3)]
    allowed = [upload(app, BENIGN, f"notes-{i}.txt", "https://files.dropbox.com/u", "bo", "sales") for i in range(2)]
    assert runtime.recorder.flush(30)
    reviewer, viewer = admin_client(app, Role.REVIEWER), admin_client(app, Role.VIEWER)

    page = reviewer.get("/v1/admin/decisions", params={"since": "1h"}).json()
    with runtime.store.session() as session:
        stored = session.scalar(select(func.count()).select_from(DecisionRow))
        blocks = session.scalar(select(func.count()).select_from(DecisionRow).where(DecisionRow.decision == "block"))
    assert page["total"] == stored and page["counts"]["block"] == blocks
    assert [d["decision_id"] for d in page["decisions"]][:5] == [*allowed[::-1], *blocked[::-1]]  # newest first

    def ids(**params: str) -> set[str]:
        answer = reviewer.get("/v1/admin/decisions", params={**params, "since": "1h"})
        assert answer.status_code == 200, answer.text
        return {d["decision_id"] for d in answer.json()["decisions"]}

    assert ids(action="block") >= set(blocked) and not ids(action="block") & set(allowed)
    assert ids(user="anna") == set(blocked) and ids(group="sales") == set(allowed)
    assert ids(destination="dropbox.com") == set(allowed)  # a host's parent domain matches it
    assert ids(destination="wetransfer.com", rule="block-contact-lists-external") == set(blocked)
    assert ids(data_class="contact_data", user="anna") == set(blocked)
    assert ids(category="personal_file_sharing", user="bo") == set(allowed)
    assert ids(until=(datetime.now(UTC) - timedelta(hours=2)).isoformat()) == set()
    assert reviewer.get("/v1/admin/decisions", params={"since": "yesterday"}).status_code == 400

    seen: list[str] = []  # every page, one decision at a time: each decision once, in order
    cursor: str | None = None
    while True:
        params = {"limit": "1", "user": "anna", **({"cursor": cursor} if cursor else {})}
        answer = reviewer.get("/v1/admin/decisions", params=params).json()
        seen += [d["decision_id"] for d in answer["decisions"]]
        cursor = answer["next"]
        if cursor is None:
            break
    assert seen == blocked[::-1]

    first = reviewer.get("/v1/admin/decisions", params={"user": "anna", "limit": "1"}).json()["decisions"][0]
    examples = [e for f in first["findings"] for e in f["examples"]]
    assert examples and all("*" in e or "…" in e for e in examples)  # masked
    assert first["routes_offered"] and first["data_classes"][0]["people"] >= 5
    as_viewer = viewer.get("/v1/admin/decisions", params={"user": "anna"})  # counts, never a decision
    assert as_viewer.status_code == 200 and as_viewer.json()["decisions"] == [] and as_viewer.json()["total"] == 3
    assert not any(example in as_viewer.text for example in examples)  # a viewer never sees masked evidence
    assert not any(decision_id in as_viewer.text for decision_id in blocked)  # nor a reference that opens it

    lines = reviewer.get("/v1/admin/decisions/export", params={"user": "anna", "format": "jsonl"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["decision_id"] for line in lines.text.splitlines()] == blocked[::-1]
    table = reviewer.get("/v1/admin/decisions/export", params={"group": "sales", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert table.headers["content-type"].startswith("text/csv") and "attachment" in table.headers[
        "content-disposition"]
    assert [r["decision_id"] for r in rows] == allowed[::-1] and {r["action"] for r in rows} == {"allow"}
    assert viewer.get("/v1/admin/decisions/export", params={"user": "anna", "format": "csv"}).status_code == 403


def test_without_a_valid_admin_token_every_admin_call_is_401(app: Any) -> None:
    client_token = AppClient.with_token(app)  # an API client's token is no admin token
    for path in ADMIN_PATHS:
        for client in (AppClient(app), client_token, AppClient(app, {"Authorization": "Bearer dta_nope"}),
                       AppClient(app, {"Authorization": "Basic YWRtaW46YWRtaW4="})):
            answer = client.get(path)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
    assert AppClient(app).post("/v1/admin/reviews/1/decline", json={"reason": "no"}).status_code == 401


def test_each_role_gets_what_it_may(app: Any) -> None:
    viewer, reviewer = admin_client(app, Role.VIEWER), admin_client(app, Role.REVIEWER)
    admin = admin_client(app, Role.POLICY_ADMIN)
    assert viewer.get("/v1/admin/whoami").json()["role"] == "viewer"
    assert viewer.get("/v1/admin/decisions").status_code == 200
    for path in ("/v1/admin/reviews", "/v1/admin/decisions/DTR-AAAA-BBBB-CCCC-DDDD"):
        assert viewer.get(path).status_code == 403
    assert reviewer.get("/v1/admin/actions").status_code == 403
    assert admin.get("/v1/admin/actions").status_code == 200
    assert reviewer.get("/v1/admin/decisions/DTR-AAAA-BBBB-CCCC-DDDD").status_code == 404


def test_the_explorer_on_stored_decisions(app: Any) -> None:
    explorer_holds(app)


def test_a_decision_in_detail_and_a_review_answered(app: Any, receiver: Origin) -> None:
    runtime: Runtime = app.state.runtime
    decision_id = upload(app, CONTACTS, "leads.csv", "https://wetransfer.com/u", "cleo", "marketing")
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision_id, "WeTransfer", "sharing with the consultant", "Friday")
    reviewer = admin_client(app, Role.REVIEWER, "rita")

    detail = reviewer.get(f"/v1/admin/decisions/{decision_id}").json()
    assert detail["action"] == "block" and detail["reasons"][0]["rule"] == "block-contact-lists-external"
    assert detail["findings"] and detail["reviews"][0]["status"] == "open"

    open_reviews = reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
    [review] = [r for r in open_reviews if r["decision_id"] == decision_id]
    assert review["tool"] == "WeTransfer" and review["user"] == "cleo"
    path = f"/v1/admin/reviews/{review['id']}/decline"
    assert reviewer.post(path, json={"reason": ""}).status_code == 422
    answered = reviewer.post(path, json={"reason": "Use the partner SharePoint site: it is set up for this."})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "declined" and answered.json()["answered_by"] == "rita"
    assert reviewer.post(path, json={"reason": "again"}).status_code == 409
    assert reviewer.post("/v1/admin/reviews/999999/decline", json={"reason": "x"}).status_code == 404
    assert decision_id not in {r["decision_id"] for r in
                               reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]}
    stored = runtime.store.get(decision_id)
    assert stored is not None and stored.history.reviews[0].status == "declined"

    # the employee sees the answer on the decision page, in their language; the helpdesk gets it too
    for language, words in (("en", "IT's answer"), ("sv", "IT:s svar"), ("nl", "Antwoord van IT")):
        page = AppClient(app).get(f"/d/{decision_id}", params={"lang": language}).text
        assert words in page.replace("&#39;", "'") and "partner SharePoint site" in page
    messages = [json.loads(r.body) for r in receiver.received if decision_id.encode() in r.body]
    [message] = [m for m in messages if m["event"] == "review_declined"]
    assert message["answer"].startswith("Use the partner") and message["answered_by"] == "rita"


def test_an_answer_that_holds_a_sensitive_value_is_masked(app: Any) -> None:
    runtime: Runtime = app.state.runtime
    decision_id = upload(app, CONTACTS, "list.csv", "https://wetransfer.com/u", "dan", "marketing")
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision_id, "WeTransfer", "for the agency", "soon")
    reviewer = admin_client(app, Role.REVIEWER)
    [review] = [r for r in reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
                if r["decision_id"] == decision_id]
    answer = reviewer.post(f"/v1/admin/reviews/{review['id']}/decline",
                           json={"reason": "Call me on +46 70 123 45 67 about 4111 1111 1111 1111"}).json()
    assert "4111 1111 1111 1111" not in answer["answer"] and "123 45 67" not in answer["answer"]


def test_every_admin_action_is_recorded_with_who_what_and_from_where(app: Any) -> None:
    reviewer = admin_client(app, Role.REVIEWER, "ravi")
    reviewer.get("/v1/admin/decisions", params={"action": "block"})
    reviewer.get("/v1/admin/decisions/export", params={"format": "csv"})
    admin = admin_client(app, Role.POLICY_ADMIN, "petra")
    recorded = admin.get("/v1/admin/actions", params={"limit": "10"}).json()["actions"]
    mine = [a for a in recorded if a["actor"] == "ravi"]
    assert [a["action"] for a in mine] == ["decisions.export", "decisions.list"]
    assert mine[1]["detail"] == {"action": "block"} and mine[1]["role"] == "reviewer"
    assert mine[0]["client_ip"] == "127.0.0.1" and datetime.fromisoformat(mine[0]["time"]).tzinfo is not None


def test_a_revoked_or_expired_token_stops_working_at_once(app: Any, runtime: Runtime) -> None:
    tokens: AdminTokens = runtime.admin_tokens
    reviewer = admin_client(app, Role.REVIEWER, "leaving")
    assert reviewer.get("/v1/admin/whoami").status_code == 200
    tokens.revoke("leaving")
    assert reviewer.get("/v1/admin/whoami").status_code == 401
    expiring = admin_client(app, Role.VIEWER, "temporary")
    with runtime.store.session() as session, session.begin():
        session.execute(update(AdminTokenRow).where(AdminTokenRow.name == "temporary")
                        .values(expires=datetime.now(UTC) - timedelta(seconds=1)))
    assert expiring.get("/v1/admin/whoami").status_code == 401
    listed = {t.name: t for t in tokens.list()}
    assert listed["leaving"].revoked is not None and listed["leaving"].last_used is not None
    assert listed["temporary"].last_used is None  # never let in


def test_a_store_that_is_down_is_503_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    built = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data"}))
    try:
        app = create_app(built.settings, built)
        viewer = admin_client(app, Role.VIEWER)
        built.store.engine.dispose()
        (tmp_path / "data" / "detour.db").unlink()
        (tmp_path / "data" / "detour.db").mkdir()  # the database file is gone: nothing can be read
        answer = viewer.get("/v1/admin/decisions")
        assert answer.status_code == 503 and answer.headers["retry-after"]
    finally:
        built.close()


def test_an_approval_is_an_exception_that_expires(app: Any, runtime: Runtime, receiver: Origin) -> None:
    """Blocked → ask IT to review → approved for the group marketing for 7 days → a marketing upload passes, named
    as allowed by the exception, another group's is still blocked; the page shows the approval; revoked or
    expired, the exception stops applying at once."""
    site = "https://www.wetransfer.com/share"
    decision_id = upload(app, CONTACTS, "leads.csv", site, "anna", "marketing")
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision_id, "WeTransfer", "the consultant needs the list", "Friday")
    reviewer, admin = admin_client(app, Role.REVIEWER, "ria"), admin_client(app, Role.POLICY_ADMIN, "pia")
    [review] = [r for r in reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
                if r["decision_id"] == decision_id]
    path = f"/v1/admin/reviews/{review['id']}/approve"
    assert reviewer.post(path, json={"group": "marketing"}).status_code == 400  # until when?
    assert reviewer.post(path, json={"group": "marketing", "user": "anna", "days": 7}).status_code == 400
    assert reviewer.post(path, json={"group": "marketing", "days": 400}).status_code == 422
    assert reviewer.post(path, json={"group": "marketing", "until": "2020-01-01"}).status_code == 400
    assert reviewer.post(path, json={"group": "marketing", "days": 7, "data_classes": ["nope"]}).status_code == 400
    granted = reviewer.post(path, json={"group": "marketing", "days": 7, "note": "Until the partner site is up."})
    assert granted.status_code == 200, granted.text
    exception = granted.json()
    assert exception["destination_host"] == "www.wetransfer.com" and exception["group"] == "marketing"
    assert exception["data_classes"] == ["contact_data"] and exception["action"] == "allow"
    assert reviewer.post(path, json={"group": "marketing", "days": 7}).status_code == 409  # answered already

    passed = AppClient.with_token(app, may_assert_user=True).post(
        "/v1/inspect", content=CONTACTS, params={"filename": "leads.csv", "destination": site},
        headers={"X-Detour-User": "bo", "X-Detour-Group": "marketing"}).json()
    assert passed["decision"] == "allow" and passed["reasons"][0]["rule"] == f"exception-{exception['id']}"
    assert "exception" in passed["reasons"][0]["message"]
    other = upload(app, CONTACTS, "leads.csv", site, "cy", "sales")
    assert runtime.recorder.flush(30)
    assert reviewer.get(f"/v1/admin/decisions/{other}").json()["action"] == "block"
    by_exception = reviewer.get("/v1/admin/decisions", params={"exception": "true"}).json()["decisions"]
    assert [d["decision_id"] for d in by_exception] == [passed["decision_id"]]
    assert by_exception[0]["exception"] == exception["id"]
    listed = reviewer.get("/v1/admin/exceptions").json()["exceptions"]
    assert [e["id"] for e in listed] == [exception["id"]] and listed[0]["created_by"] == "ria"

    for language, words in (("en", "until"), ("sv", "till och med"), ("nl", "tot en met")):
        page = AppClient(app).get(f"/d/{decision_id}", params={"lang": language}).text
        assert f'{words} <time datetime="' in page and f'data-local="date">{exception["expires"][:10]}</time>' in page
        assert "Until the partner site is up." in page
    messages = [json.loads(r.body) for r in receiver.received if decision_id.encode() in r.body]
    assert [m["exception"]["id"] for m in messages if m["event"] == "review_approved"] == [exception["id"]]

    assert reviewer.delete(f"/v1/admin/exceptions/{exception['id']}").status_code == 403  # policy admins revoke
    assert admin.delete(f"/v1/admin/exceptions/{exception['id']}").json()["revoked_by"] == "pia"
    again = upload(app, CONTACTS, "leads.csv", site, "bo", "marketing")
    assert runtime.recorder.flush(30)
    assert reviewer.get(f"/v1/admin/decisions/{again}").json()["action"] == "block"
    assert reviewer.get("/v1/admin/exceptions").json()["exceptions"] == []
    assert [e["id"] for e in reviewer.get("/v1/admin/exceptions", params={"ended": "true"}).json()["exceptions"]
            if e["id"] == exception["id"]]


def test_an_exception_past_its_expiry_stops_applying_by_itself(app: Any, runtime: Runtime) -> None:
    site = "https://transfer.example.net/u"
    decision_id = upload(app, CONTACTS, "leads.csv", site, "dee", "events")
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision_id, "Transfer", "for the fair", "Monday")
    reviewer = admin_client(app, Role.REVIEWER)
    [review] = [r for r in reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
                if r["decision_id"] == decision_id]
    granted = reviewer.post(f"/v1/admin/reviews/{review['id']}/approve", json={"user": "dee", "days": 1}).json()
    assert upload_decision(app, site, "dee") == "allow"
    with runtime.store.session() as session, session.begin():  # the clock moves past the expiry
        session.execute(update(ExemptionRow).where(ExemptionRow.id == granted["id"])
                        .values(expires=datetime.now(UTC) + timedelta(seconds=1)))
    runtime.exemptions.refresh()
    time.sleep(1.1)
    assert upload_decision(app, site, "dee") == "block"


def upload_decision(app: Any, site: str, user: str) -> str:
    sender = AppClient.with_token(app, may_assert_user=True)
    answer = sender.post("/v1/inspect", content=CONTACTS, params={"filename": "leads.csv", "destination": site},
                         headers={"X-Detour-User": user})
    decision: str = answer.json()["decision"]
    return decision


def test_a_false_positive_confirmed_lets_that_very_file_go(app: Any, runtime: Runtime, receiver: Origin) -> None:
    """"Looks wrong" → IT confirms a false positive and lets this file go to this site for 30 days: the same
    file passes (from anyone), a changed file is still decided by the detectors; the person sees the verdict."""
    site = "https://share.partner.example/u"
    decision_id = upload(app, CONTACTS, "test-accounts.csv", site, "eva", "qa")
    assert runtime.recorder.flush(30)
    runtime.store.report_wrong(decision_id, "test accounts, not customers")
    reviewer = admin_client(app, Role.REVIEWER, "rolf")
    [report] = [r for r in reviewer.get("/v1/admin/reports", params={"status": "open"}).json()["reports"]
                if r["decision_id"] == decision_id]
    assert report["believed"] == "test accounts, not customers" and report["user"] == "eva"
    path = f"/v1/admin/reports/{report['id']}"
    assert reviewer.post(f"{path}/reject", json={"note": "x", "exception_days": 3}).status_code == 400
    answered = reviewer.post(f"{path}/confirm", json={"note": "Synthetic data: fine.", "exception_days": 30})
    assert answered.status_code == 200, answered.text
    verdict = answered.json()
    assert verdict["status"] == "confirmed" and verdict["exception"]["sha256"] and verdict["answered_by"] == "rolf"
    assert reviewer.post(f"{path}/reject", json={"note": "no"}).status_code == 409

    assert upload_decision_of(app, CONTACTS, site, "someone-else") == "allow"  # this very file, from anyone
    assert upload_decision_of(app, CONTACTS + b"\n", site, "someone-else") == "block"  # another file
    for language, words in (("en", "IT agreed"), ("sv", "IT höll med"), ("nl", "IT is het met je eens")):
        page = AppClient(app).get(f"/d/{decision_id}", params={"lang": language}).text
        assert words in page and "Synthetic data: fine." in page
    messages = [json.loads(r.body) for r in receiver.received if decision_id.encode() in r.body]
    assert [m["status"] for m in messages if m["event"] == "report_answered"] == ["confirmed"]


def test_a_report_rejected_leaves_the_decision_standing(app: Any, runtime: Runtime) -> None:
    decision_id = upload(app, CONTACTS, "crm.csv", "https://wetransfer.com/u", "finn", "sales")
    assert runtime.recorder.flush(30)
    runtime.store.report_wrong(decision_id, "only colleagues")
    reviewer = admin_client(app, Role.REVIEWER)
    [report] = [r for r in reviewer.get("/v1/admin/reports", params={"status": "open"}).json()["reports"]
                if r["decision_id"] == decision_id]
    verdict = reviewer.post(f"/v1/admin/reports/{report['id']}/reject",
                            json={"note": "These are customer addresses."}).json()
    assert verdict["status"] == "rejected" and verdict["exception"] is None
    assert "IT looked at it: the decision stands." in AppClient(app).get(f"/d/{decision_id}").text
    assert reviewer.get("/v1/admin/dashboard").json()["reports_open"] >= 0
    assert admin_client(app, Role.VIEWER).get("/v1/admin/reports").status_code == 403


def upload_decision_of(app: Any, blob: bytes, site: str, user: str) -> str:
    sender = AppClient.with_token(app, may_assert_user=True)
    answer = sender.post("/v1/inspect", content=blob, params={"filename": "f.csv", "destination": site},
                         headers={"X-Detour-User": user})
    decision: str = answer.json()["decision"]
    return decision


def test_an_exception_in_force_is_extended_within_the_policy_limit(app: Any, runtime: Runtime) -> None:
    site = "https://drop.vendor.example/u"
    decision_id = upload(app, CONTACTS, "leads.csv", site, "ola", "events")
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision_id, "Vendor drop", "for the fair", "soon")
    reviewer = admin_client(app, Role.REVIEWER)
    [review] = [r for r in reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
                if r["decision_id"] == decision_id]
    granted = reviewer.post(f"/v1/admin/reviews/{review['id']}/approve", json={"user": "ola", "days": 2}).json()
    path = f"/v1/admin/exceptions/{granted['id']}"
    longer = reviewer.patch(path, json={"days": 30})
    assert longer.status_code == 200 and longer.json()["expires"] > granted["expires"]
    assert reviewer.patch(path, json={"days": 91}).status_code == 400  # the policy's max_exception_days: 90
    assert reviewer.patch(path, json={}).status_code == 400
    assert admin_client(app, Role.VIEWER).patch(path, json={"days": 3}).status_code == 403
    assert reviewer.patch("/v1/admin/exceptions/999999", json={"days": 3}).status_code == 404
    admin_client(app, Role.POLICY_ADMIN).delete(path)
    assert reviewer.patch(path, json={"days": 3}).status_code == 409  # revoked: grant a new one instead


def test_what_an_approval_may_never_grant(app: Any, runtime: Runtime) -> None:
    """Never "any data" by default, never a stand-in destination, never twice."""
    reviewer = admin_client(app, Role.REVIEWER)

    def review_of(blob: bytes, destination: str, user: str) -> int:
        decision_id = upload(app, blob, "f.txt", destination, user, "ops")
        assert runtime.recorder.flush(30)
        runtime.store.request_review(decision_id, "tool", "why", "soon")
        return next(r["id"] for r in reviewer.get("/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
                    if r["decision_id"] == decision_id)

    allowed = review_of(BENIGN, "https://wetransfer.com/u", "ada")  # nothing stopped it: no data class to cover
    refused = reviewer.post(f"/v1/admin/reviews/{allowed}/approve", json={"user": "ada", "days": 1})
    assert refused.status_code == 409 and "name the data classes" in refused.json()["error"]["message"]
    explicit = reviewer.post(f"/v1/admin/reviews/{allowed}/approve", json={"user": "ada", "days": 1,
                                                                           "data_classes": []})
    assert explicit.status_code == 200 and explicit.json()["data_classes"] == []  # "any", said out loud

    nowhere = review_of(CONTACTS, "", "bea")  # no destination named: Detour's stand-in host
    answer = reviewer.post(f"/v1/admin/reviews/{nowhere}/approve", json={"everyone": True, "days": 1})
    assert answer.status_code == 409 and "no real destination" in answer.json()["error"]["message"]


def test_two_answers_at_once_one_wins(app: Any, runtime: Runtime) -> None:
    decision_ids = [upload(app, CONTACTS, "f.csv", "https://wetransfer.com/u", f"u{i}", "ops") for i in range(4)]
    assert runtime.recorder.flush(30)
    for decision_id in decision_ids:
        runtime.store.request_review(decision_id, "tool", "why", "soon")
    open_reviews = store_admin.reviews(runtime.store, "open", 500)
    ids = [r["id"] for r in open_reviews if r["decision_id"] in decision_ids]
    admin = store_admin.Admin("racer", Role.REVIEWER)

    def approve(review_id: int) -> str:
        try:
            runtime.exemptions.approve(review_id, "racer", user=None, group="ops",
                                       expires=datetime.now(UTC) + timedelta(days=1))
            return "approved"
        except DetourError:
            return "refused"

    def decline(review_id: int) -> str:
        try:
            store_admin.decline(runtime.store, review_id, admin, "no")
            return "declined"
        except DetourError:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = {review_id: sorted(f.result() for f in [pool.submit(approve, review_id),
                                                            pool.submit(decline, review_id),
                                                            pool.submit(approve, review_id)])
                    for review_id in ids}
    for review_id, results in outcomes.items():
        assert results.count("refused") == 2, results
        [stored] = [r for r in store_admin.reviews(runtime.store, None, 500) if r["id"] == review_id]
        granted = [e for e in runtime.exemptions.all(True) if e["review_id"] == review_id]
        assert (stored["status"], len(granted)) in (("approved", 1), ("declined", 0))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v1/admin/decisions?since=0001-01-01T00:00:00%2B01:00", None),
    ("GET", "/v1/admin/decisions?until=9999-12-31T23:59:59-01:00", None),
    ("GET", f"/v1/admin/reviews?before={2**70}", None),
    ("GET", f"/v1/admin/actions?before={2**70}", None),
    ("POST", f"/v1/admin/reviews/{2**70}/decline", {"reason": "no"}),
    ("POST", "/v1/admin/reviews/1/approve", {"everyone": True, "until": "9999-12-31T23:59:59-01:00"}),
    ("POST", "/v1/admin/reviews/1/decline", {"reason": " \n\t "}),
    ("DELETE", f"/v1/admin/exceptions/{2**70}", None),
    ("PATCH", "/v1/admin/exceptions/1", {"until": "0001-01-01T00:00:00+01:00"}),
])
def test_bad_input_is_a_clear_4xx(app: Any, method: str, path: str, body: dict[str, Any] | None) -> None:
    answer = admin_client(app, Role.POLICY_ADMIN).request(method, path, json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["message"]


def test_an_export_cell_is_never_a_formula() -> None:
    for text in ("=1+1", " =1+1", "＝1+1", "+46", "-x", "@SUM(A1)", "\tx"):
        assert admin_routes._cell(text).startswith("'")
    assert admin_routes._cell("anna@corp.example") == "anna@corp.example"


def test_the_dashboard_figures_are_the_stores(settings: Settings, tmp_path: Path) -> None:
    """On a store of its own: every figure recomputed from the tables."""
    runtime = Runtime.build(settings.model_copy(update={"data_dir": tmp_path / "data"}))
    try:
        app = create_app(runtime.settings, runtime)
        stops = [upload(app, CONTACTS, f"c{i}.csv", "https://wetransfer.com/u", f"p{i}", "sales") for i in range(3)]
        passes = [upload(app, BENIGN, f"n{i}.txt", "https://wetransfer.com/u", "q", "sales") for i in range(2)]
        assert runtime.recorder.flush(30) and len(passes) == 2
        offered = runtime.store.get(stops[0])
        assert offered is not None
        first_route = offered.report.alternatives[0].id
        for decision_id in stops[:2]:  # two of three people take the first route
            assert AppClient(app).get(f"/d/{decision_id}/go/{first_route}").status_code in (302, 303, 307)
        runtime.store.request_review(stops[0], "t", "w", "n")
        runtime.store.request_review(stops[1], "t", "w", "n")
        runtime.store.report_wrong(stops[2], "test data")
        reviewer = admin_client(app, Role.REVIEWER)
        [review] = [r for r in reviewer.get("/v1/admin/reviews").json()["reviews"] if r["decision_id"] == stops[0]]
        reviewer.post(f"/v1/admin/reviews/{review['id']}/decline", json={"reason": "no"})

        figures = reviewer.get("/v1/admin/dashboard", params={"days": "3"}).json()
        with runtime.store.session() as session:
            by_action = dict(session.execute(select(DecisionRow.decision, func.count())
                                             .group_by(DecisionRow.decision)).all())
        assert sum(d["block"] for d in figures["per_day"]) == by_action["block"] == 3
        assert sum(d["allow"] for d in figures["per_day"]) == by_action["allow"] == 2
        assert figures["decisions"] == 5
        route = next(r for r in figures["routes"] if r["route"] == first_route)
        assert (route["offered"], route["opened"], route["take_up"]) == (3, 2, round(2 / 3, 3))
        assert figures["top_rules"][0] == {"name": "block-contact-lists-external", "count": 3}
        assert figures["top_destinations"][0] == {"name": "wetransfer.com", "count": 3}
        assert figures["top_data_classes"][0]["name"] == "contact_data"
        assert (figures["reviews_open"], figures["reports_open"], figures["reviews_answered"]) == (1, 1, 1)
        assert figures["answer_hours_median"] is not None and figures["answer_hours_median"] >= 0
    finally:
        runtime.close()


def test_a_policy_admin_reads_the_policy_in_force(app: Any, runtime: Runtime) -> None:
    answer = admin_client(app, Role.POLICY_ADMIN).get("/v1/admin/policy").json()
    assert answer["digest"] == runtime.policy.digest
    assert "block-contact-lists-external" in {r["id"] for r in answer["document"]["rules"]}
    assert admin_client(app, Role.REVIEWER).get("/v1/admin/policy").status_code == 403


def test_a_policy_admin_reloads_the_policy_folder(app: Any, runtime: Runtime) -> None:
    admin = admin_client(app, Role.POLICY_ADMIN)
    state = admin.post("/v1/admin/policy/reload").json()
    assert state["loaded"] == runtime.policy.digest == state["on_disk"] and state["error"] is None
    assert admin_client(app, Role.REVIEWER).post("/v1/admin/policy/reload").status_code == 403
    ready = AppClient(app).get("/readyz").json()["policy"]
    assert ready["loaded"] == ready["digest"] and ready["error"] is None


def _draft_files(warn_instead: bool) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The shipped policy's files as a draft, the contact-list rule warning instead of blocking."""
    files = []
    for path in sorted(POLICIES.glob("*.yaml")):
        text = path.read_text()
        if warn_instead and path.name == "default.yaml":
            text = text.replace("    when: {sanctioned: false, data_classes: [contact_data]}\n    action: block",
                                "    when: {sanctioned: false, data_classes: [contact_data]}\n    action: warn")
        files.append(("files", (path.name, text.encode(), "application/yaml")))
    return files


def test_a_policy_admin_simulates_a_draft_and_compares_versions(app: Any, runtime: Runtime) -> None:
    runtime.reloader.record(runtime.policy, "start-up")
    blocked = upload(app, CONTACTS, "customers.csv", "wetransfer.com", "sim-user", "marketing")
    assert runtime.recorder.flush(30)
    admin = admin_client(app, Role.POLICY_ADMIN)
    answer = admin.post("/v1/admin/policy/simulate", files=_draft_files(True), data={"since": "1h"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["replayed"] >= 1 and result["changed"] >= 1
    softened = next(t for t in result["transitions"] if t["change"] == "block → warn")
    assert blocked in softened["examples"] or softened["decisions"] > 5
    same = admin.post("/v1/admin/policy/simulate", files=_draft_files(False), data={"since": "1h"}).json()
    assert same["changed"] == 0 and same["draft"] == runtime.policy.digest
    # the policy in force, recorded as a version, simulated by its digest: nothing changes either
    assert admin.post("/v1/admin/policy/simulate", data={"version": runtime.policy.digest[:8]}).json()["changed"] == 0

    broken = [("files", ("default.yaml", b"rules:\n  - id: x\n    action: explode\n", "application/yaml"))]
    refused = admin.post("/v1/admin/policy/simulate", files=broken)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_policy"
    assert any("default.yaml" in p for p in refused.json()["error"]["problems"])
    not_yaml = admin.post("/v1/admin/policy/simulate", files=[("files", ("notes.txt", b"x", "text/plain"))])
    assert not_yaml.status_code == 400 and "*.yaml" in not_yaml.json()["error"]["message"]
    too_long = admin.post("/v1/admin/policy/simulate", files=_draft_files(False), data={"since": "400d"})
    assert too_long.status_code == 400
    huge = admin.post("/v1/admin/policy/simulate", files=[("files", ("big.yaml", b"#" * (3 * 1024 * 1024), "x"))])
    assert huge.status_code == 413  # refused before it is read
    assert admin_client(app, Role.REVIEWER).post("/v1/admin/policy/simulate", files=_draft_files(False)).status_code \
        == 403

    listed = admin.get("/v1/admin/policy/versions").json()
    assert listed["in_force"] == runtime.policy.digest
    assert runtime.policy.digest in [v["digest"] for v in listed["versions"]]
    compared = admin.get("/v1/admin/policy/diff", params={"a": runtime.policy.digest}).json()
    assert compared["same"] is True
    unknown = admin.get("/v1/admin/policy/diff", params={"a": "abcdef123456"})
    assert unknown.status_code == 404 and "no policy version" in unknown.json()["error"]["message"]
    assert admin.post("/v1/admin/policy/simulate", data={"version": "abcdef123456"}).status_code == 404
    assert admin.post("/v1/admin/policy/simulate", data={"version": "%%%%%%"}).status_code == 400
    both = admin.post("/v1/admin/policy/simulate", files=_draft_files(False), data={"version": runtime.policy.digest})
    assert both.status_code == 400 and "not both" in both.json()["error"]["message"]
    actions = [a["action"] for a in store_admin.actions(runtime.store, 20)]
    assert {"policy.simulate", "policy.versions", "policy.diff"} <= set(actions)


def test_metrics_need_an_admin_token_and_count_decisions(app: Any, runtime: Runtime) -> None:
    upload(app, BENIGN, "notes.txt", "wetransfer.com", "metrics-user", "marketing")
    assert AppClient(app).get("/v1/admin/metrics").status_code == 401
    answer = admin_client(app, Role.VIEWER).get("/v1/admin/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    allowed = re.search(r'^detour_decisions_total\{action="allow",channel="api",destination="personal_file_sharing"\} '
                        r"(\d+)\.0$", answer.text, re.M)
    assert allowed and int(allowed.group(1)) >= 1
    assert re.search(r"^detour_recorder_queued \d+", answer.text, re.M)
    assert re.search(r"^detour_store_up 1\.0$", answer.text, re.M)
    assert "metrics-user" not in answer.text and "wetransfer" not in answer.text  # no person, no destination
    assert admin_client(app, Role.VIEWER).get("/metrics").text.startswith("# HELP")  # where Prometheus looks
    assert AppClient(app).get("/metrics").status_code == 401
