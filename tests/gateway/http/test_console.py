"""IT's console: sign-in through a real OpenID Connect provider (oidc-provider-mock, started by the suite),
the provider's groups as roles, the session and its timeout, CSRF, and the pages: dashboard, decisions,
review requests answered as exceptions, exceptions revoked, the record of admin actions."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from gateway.http.app import create_app
from gateway.http.routes import console
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.models import DecisionRow
from tests.conftest import CORPUS, POLICIES
from tests.factories import AppClient
from tests.services import start_oidc

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
ROLES = "it-helpdesk=viewer,it-security=reviewer,it-admins=policy_admin"
SITE = "https://wetransfer.com/share"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from start_oidc(tmp_path_factory.mktemp("oidc"))


@pytest.fixture(scope="module")
def app(settings: Settings, tmp_path_factory: pytest.TempPathFactory, issuer: str) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("console")
    runtime = Runtime.build(settings.model_copy(update={
        "data_dir": tmp / "data", "oidc_issuer": issuer, "oidc_client_id": "detour",
        "oidc_client_secret": SecretStr("s3cret"), "oidc_roles": ROLES, "admin_session_minutes": 5}))
    yield create_app(runtime.settings, runtime)
    runtime.close()


Browser = httpx.AsyncClient


def browse(app: Any, steps: Callable[[Browser], Awaitable[None]]) -> None:
    """One browser (its cookies kept across requests) doing ``steps`` against the app."""
    async def run() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://detour.test") as browser:
            await steps(browser)
    asyncio.run(run())


async def sign_in(browser: Browser, issuer: str, who: str, groups: list[str], target: str = "/admin") -> httpx.Response:
    """Sign in as a person the provider knows with these groups: the console's login, the provider's form,
    back to the console's callback. Returns the callback's answer."""
    assert httpx.put(f"{issuer}/users/{quote(who)}", json={"email": who, "groups": groups}).status_code == 204
    start = await browser.get("/admin/login", params={"next": target})
    assert start.status_code in (302, 303, 307), start.text
    authorize = start.headers["location"]
    assert authorize.startswith(issuer) and "code_challenge=" in authorize and "code_challenge_method=S256" in authorize
    answered = httpx.post(authorize, data={"sub": who})  # the person signs in at the provider
    assert answered.status_code in (302, 303), answered.text
    back = urlsplit(answered.headers["location"])
    assert back.path == "/admin/callback"
    return await browser.get(f"{back.path}?{back.query}")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def blocked_with_review(app: Any, user: str, group: str) -> tuple[str, int]:
    runtime: Runtime = app.state.runtime
    sender = AppClient.with_token(app, may_assert_user=True)
    decision = sender.post("/v1/inspect", content=CONTACTS, params={"filename": "leads.csv", "destination": SITE},
                           headers={"X-Detour-User": user, "X-Detour-Group": group}).json()
    assert decision["decision"] == "block"
    assert runtime.recorder.flush(30)
    runtime.store.request_review(decision["decision_id"], "WeTransfer", "the consultant needs it", "Friday")
    admin_token = runtime.admin_tokens.create(f"lookup-{decision['decision_id']}", console.Role.REVIEWER)
    reviews = AppClient(app, {"Authorization": f"Bearer {admin_token}"}).get(
        "/v1/admin/reviews", params={"status": "open"}).json()["reviews"]
    [review] = [r for r in reviews if r["decision_id"] == decision["decision_id"]]
    return decision["decision_id"], review["id"]


def test_every_console_page_asks_for_sign_in_first(app: Any) -> None:
    async def steps(browser: Browser) -> None:
        for path in ("/admin", "/admin/decisions", "/admin/reviews", "/admin/exceptions", "/admin/actions",
                     "/admin/export"):
            answer = await browser.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login?next=")
        posted = await browser.post("/admin/reviews/1/approve", data={"who": "everyone", "days": "1"})
        assert posted.status_code == 303 and "/admin/login" in posted.headers["location"]
    browse(app, steps)


def test_a_reviewer_signs_in_and_approves_a_request_as_an_exception(app: Any, issuer: str) -> None:
    decision_id, review_id = blocked_with_review(app, "anna", "marketing")

    async def steps(browser: Browser) -> None:
        landed = await sign_in(browser, issuer, "rita@corp.example", ["staff", "it-security"], "/admin/reviews")
        assert landed.status_code == 303 and landed.headers["location"] == "/admin/reviews"
        cookie = landed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/admin" in cookie
        queue = await browser.get("/admin/reviews")
        assert queue.status_code == 200 and decision_id in queue.text and "rita@corp.example · reviewer" in queue.text
        token = csrf(queue.text)
        form = {"csrf": token, "who": "group", "group": "marketing", "days": "7", "note": "Until the partner site."}
        refused = await browser.post(f"/admin/reviews/{review_id}/approve", data={**form, "csrf": "forged"})
        assert refused.status_code == 403
        cross_site = await browser.post(f"/admin/reviews/{review_id}/approve", data=form,
                                        headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403
        approved = await browser.post(f"/admin/reviews/{review_id}/approve", data=form)
        assert approved.status_code == 303 and "Approved" in approved.headers["location"]
        shown = await browser.get(approved.headers["location"])
        assert "Approved: exception" in shown.text
        listed = await browser.get("/admin/exceptions")
        assert "marketing" in listed.text and "wetransfer.com" in listed.text and "Revoke" not in listed.text
    browse(app, steps)

    passed = AppClient.with_token(app, may_assert_user=True).post(
        "/v1/inspect", content=CONTACTS, params={"filename": "leads.csv", "destination": SITE},
        headers={"X-Detour-User": "bo", "X-Detour-Group": "marketing"}).json()
    assert passed["decision"] == "allow" and passed["reasons"][0]["rule"].startswith("exception-")
    page = AppClient(app).get(f"/d/{decision_id}").text
    assert "Until the partner site." in page and "approved" in page


def test_a_viewer_sees_counts_but_never_masked_evidence(app: Any, issuer: str) -> None:
    blocked_with_review(app, "cleo", "sales")
    runtime: Runtime = app.state.runtime
    with runtime.store.session() as session:
        stored = session.scalar(select(func.count()).select_from(DecisionRow)
                                .where(DecisionRow.decision == "block"))

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "hugo@corp.example", ["it-helpdesk"])
        home = await browser.get("/admin")
        assert home.status_code == 200 and "<svg" in home.text and "Did staff take the detour?" in home.text
        assert re.search(rf"<td class=\"num\">{stored}</td>", home.text) or f"{stored} decisions" in home.text
        listed = await browser.get("/admin/decisions", params={"action": "block"})
        assert listed.status_code == 200 and f"{stored} decisions" in listed.text  # counts only
        assert "cleo" not in listed.text and "DTR-" not in listed.text and "***" not in listed.text
        assert (await browser.get("/admin/export", params={"action": "block"})).status_code == 403
        assert (await browser.get("/admin/reviews")).status_code == 403
        assert (await browser.get("/admin/actions")).status_code == 403
    browse(app, steps)


def test_nobody_without_a_mapped_group_gets_in(app: Any, issuer: str) -> None:
    async def steps(browser: Browser) -> None:
        answer = await sign_in(browser, issuer, "eve@corp.example", ["staff", "marketing"])
        assert answer.status_code == 403 and "No access to the console" in answer.text
        assert (await browser.get("/admin")).status_code == 303
    browse(app, steps)


def test_a_session_ends_after_its_idle_time_and_on_sign_out(app: Any, issuer: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "ines@corp.example", ["it-admins"])
        home = await browser.get("/admin")
        assert home.status_code == 200 and "Admin actions" in home.text
        actions = await browser.get("/admin/actions")
        assert "ines@corp.example (policy_admin)" in actions.text and "console.sign_in" in actions.text
        real = time.time
        monkeypatch.setattr(console.time, "time", lambda: real() + 6 * 60)  # six idle minutes later
        assert (await browser.get("/admin")).status_code == 303
        monkeypatch.undo()
        await sign_in(browser, issuer, "ines@corp.example", ["it-admins"])
        token = csrf((await browser.get("/admin")).text)
        out = await browser.post("/admin/logout", data={"csrf": token})
        assert out.status_code == 200 and "Signed out" in out.text
        assert (await browser.get("/admin")).status_code == 303
    browse(app, steps)


def test_a_policy_admin_revokes_an_exception_from_the_console(app: Any, issuer: str) -> None:
    _, review_id = blocked_with_review(app, "dan", "finance")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "paul@corp.example", ["it-admins"])
        token = csrf((await browser.get("/admin/reviews")).text)
        await browser.post(f"/admin/reviews/{review_id}/approve",
                           data={"csrf": token, "who": "user", "user": "dan", "days": "3"})
        listed = await browser.get("/admin/exceptions")
        exception_id = re.findall(r"/admin/exceptions/(\d+)/revoke", listed.text)[0]
        revoked = await browser.post(f"/admin/exceptions/{exception_id}/revoke", data={"csrf": token})
        assert revoked.status_code == 303 and "revoked" in revoked.headers["location"]
        assert "revoked by paul@corp.example" in (await browser.get("/admin/exceptions")).text
    browse(app, steps)
    again = AppClient.with_token(app, may_assert_user=True).post(
        "/v1/inspect", content=CONTACTS, params={"filename": "leads.csv", "destination": SITE},
        headers={"X-Detour-User": "dan"}).json()
    assert again["decision"] == "block"


def test_a_looks_wrong_report_is_answered_from_the_console(app: Any, issuer: str) -> None:
    runtime: Runtime = app.state.runtime
    decision_id, _ = blocked_with_review(app, "gus", "qa")
    runtime.store.report_wrong(decision_id, "generated test data")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "rosa@corp.example", ["it-security"])
        queue = await browser.get("/admin/reviews")
        assert "generated test data" in queue.text
        report_id = re.findall(r"/admin/reports/(\d+)/confirm", queue.text)[-1]
        done = await browser.post(f"/admin/reports/{report_id}/reject",
                                  data={"csrf": csrf(queue.text), "note": "Real customers."})
        assert done.status_code == 303 and "rejected" in done.headers["location"]
    browse(app, steps)
    assert "IT looked at it: the decision stands." in AppClient(app).get(f"/d/{decision_id}").text


def test_a_decision_in_detail_and_an_exception_extended_in_the_console(app: Any, issuer: str) -> None:
    decision_id, review_id = blocked_with_review(app, "hal", "events")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "vera@corp.example", ["it-security"])
        detail = await browser.get(f"/admin/decisions/{decision_id}")
        assert detail.status_code == 200 and "block-contact-lists-external" in detail.text
        assert "EMAIL_ADDRESS" in detail.text and "@" in detail.text and "hal" in detail.text
        listed = await browser.get("/admin/decisions", params={"user": "hal", "exception": "no"})
        assert f'href="/admin/decisions/{decision_id}"' in listed.text
        assert (await browser.get("/admin/decisions", params={"exception": "maybe"})).status_code == 400
        token = csrf((await browser.get("/admin/reviews")).text)
        await browser.post(f"/admin/reviews/{review_id}/approve",
                           data={"csrf": token, "who": "user", "user": "hal", "days": "2"})
        listed = await browser.get("/admin/exceptions")
        exception_id = re.findall(r"/admin/exceptions/(\d+)/extend", listed.text)[0]
        done = await browser.post(f"/admin/exceptions/{exception_id}/extend", data={"csrf": token, "days": "20"})
        assert done.status_code == 303 and "now+lasts+until" in done.headers["location"]
    browse(app, steps)


def test_a_copied_session_cookie_dies_at_sign_out_and_links_cannot_put_words_in_the_console(
        app: Any, issuer: str) -> None:
    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "otto@corp.example", ["it-security"])
        copied = dict(browser.cookies)
        token = csrf((await browser.get("/admin")).text)
        forged = await browser.get("/admin/reviews", params={"done": "Session expired: sign in at https://evil.example"})
        assert "evil.example" not in forged.text
        await browser.post("/admin/logout", data={"csrf": token})
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://detour.test", cookies=copied) as thief:
            assert (await thief.get("/admin/reviews")).status_code == 303
    browse(app, steps)


def test_a_request_is_taken_and_commented_by_a_reviewer(app: Any, issuer: str) -> None:
    _, review_id = blocked_with_review(app, "ivy", "design")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "tom@corp.example", ["it-security"])
        token = csrf((await browser.get("/admin/reviews")).text)
        taken = await browser.post(f"/admin/reviews/{review_id}/assign", data={"csrf": token, "to": "me"})
        assert taken.status_code == 303
        await browser.post(f"/admin/reviews/{review_id}/comment",
                           data={"csrf": token, "text": "Asked the vendor for its DPA."})
        queue = (await browser.get("/admin/reviews")).text
        section = queue[queue.index(f'id="review-{review_id}"'):]
        assert "Taken by tom@corp.example." in section and "Asked the vendor for its DPA." in section
        assert (await browser.post(f"/admin/reviews/{review_id}/comment",
                                   data={"csrf": token, "text": "   "})).headers["location"].count("Not+added")
    browse(app, steps)
    reviews = AppClient(app, {"Authorization": "Bearer " + app.state.runtime.admin_tokens.create(
        "comments-reader", console.Role.REVIEWER)}).get("/v1/admin/reviews").json()["reviews"]
    [mine] = [r for r in reviews if r["id"] == review_id]
    assert mine["assigned_to"] == "tom@corp.example" and mine["comments"][0]["text"] == "Asked the vendor for its DPA."


@pytest.mark.parametrize(("language", "words"), [
    ("sv", ("Översikt", "Tog personalen omvägen?", "Logga ut", "Granskningsförfrågningar som väntar", "Godkänn")),
    ("nl", ("Overzicht", "Namen medewerkers de omweg?", "Afmelden", "Beoordelingsverzoeken die wachten", "Goedkeuren")),
])
def test_the_console_speaks_swedish_and_dutch(app: Any, issuer: str, language: str, words: tuple[str, ...]) -> None:
    blocked_with_review(app, f"lea-{language}", "design")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, f"kim-{language}@corp.example", ["it-security"])
        home = await browser.get("/admin", params={"lang": language})
        assert f'<html lang="{language}">' in home.text
        assert all(word in home.text for word in words[:3]), home.text[:2000]
        queue = await browser.get("/admin/reviews")  # the choice stays for the session
        assert all(word in queue.text for word in words[3:])
        english = await browser.get("/admin", params={"lang": "en"}, headers={"Accept-Language": language})
        assert "Did staff take the detour?" in english.text
    browse(app, steps)


def test_the_console_follows_the_browser_language_until_told_otherwise(app: Any, issuer: str) -> None:
    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "nils@corp.example", ["it-helpdesk"])
        home = await browser.get("/admin", headers={"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"})
        assert "Tog personalen omvägen?" in home.text
    browse(app, steps)


def test_a_policy_admin_sees_the_policy_in_force(app: Any, issuer: str) -> None:
    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "polly@corp.example", ["it-admins"])
        shown = await browser.get("/admin/policy")
        assert shown.status_code == 200 and "block-contact-lists-external" in shown.text
        assert app.state.runtime.policy.digest in shown.text
        await sign_in(browser, issuer, "rex@corp.example", ["it-security"])
        assert (await browser.get("/admin/policy")).status_code == 403
    browse(app, steps)


def test_reports_are_taken_and_commented_and_approvals_name_their_data_classes(app: Any, issuer: str) -> None:
    runtime: Runtime = app.state.runtime
    decision_id, _ = blocked_with_review(app, "uma", "qa")
    runtime.store.report_wrong(decision_id, "made-up test people")
    sender = AppClient.with_token(app, may_assert_user=True)
    calm = sender.post("/v1/inspect", content=b"Agenda: Tuesday.\n", params={"filename": "a.txt", "destination": SITE},
                       headers={"X-Detour-User": "uma"}).json()  # allowed: nothing stopped it
    assert runtime.recorder.flush(30)
    runtime.store.request_review(calm["decision_id"], "WeTransfer", "agendas", "soon")

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "ula@corp.example", ["it-security"])
        queue = await browser.get("/admin/reviews")
        token = csrf(queue.text)
        report_id = re.findall(r"/admin/reports/(\d+)/confirm", queue.text)[-1]
        taken = await browser.post(f"/admin/reports/{report_id}/assign", data={"csrf": token, "to": "me"})
        assert taken.status_code == 303 and "Taken" in taken.headers["location"]
        said = await browser.post(f"/admin/reports/{report_id}/comment", data={"csrf": token, "text": "\u200b"})
        assert "Not+added" in said.headers["location"]  # a zero-width space says nothing
        target = max(int(r) for r in re.findall(r'id="review-(\d+)"', queue.text))  # the newest: the calm one
        refused = await browser.post(f"/admin/reviews/{target}/approve",
                                     data={"csrf": token, "who": "user", "user": "uma", "days": "1"})
        assert "name+the+data+classes" in refused.headers["location"]
        granted = await browser.post(f"/admin/reviews/{target}/approve",
                                     data={"csrf": token, "who": "user", "user": "uma", "days": "1",
                                           "data_classes": "any"})
        assert "Approved" in granted.headers["location"]
        moved = granted.headers["location"].replace("/admin/reviews", "/admin/exceptions")
        assert "Approved" not in (await browser.get(moved)).text  # a message signed for one page only
    browse(app, steps)


def test_a_policy_admin_reloads_from_the_console(app: Any, issuer: str) -> None:
    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "paula@corp.example", ["it-admins"])
        shown = await browser.get("/admin/policy")
        assert "Reload the policy folder" in shown.text
        reloaded = await browser.post("/admin/policy/reload", data={"csrf": csrf(shown.text)})
        assert reloaded.status_code == 303
        assert "is in force" in (await browser.get(reloaded.headers["location"])).text
    browse(app, steps)


def test_a_policy_admin_tries_a_draft_and_compares_versions_in_the_console(app: Any, issuer: str) -> None:
    runtime: Runtime = app.state.runtime
    runtime.reloader.record(runtime.policy, "start-up")
    sender = AppClient.with_token(app, may_assert_user=True)
    stopped = sender.post("/v1/inspect", content=(CORPUS / "customers_q3.csv").read_bytes(),
                          params={"filename": "c.csv", "destination": SITE}, headers={"X-Detour-User": "sim"}).json()
    assert stopped["decision"] == "block" and runtime.recorder.flush(30)
    draft = []
    for path in sorted(POLICIES.glob("*.yaml")):
        text = path.read_text().replace("data_classes: [contact_data]}\n    action: block",
                                        "data_classes: [contact_data]}\n    action: warn")
        draft.append(("files", (path.name, text.encode(), "application/yaml")))

    async def steps(browser: Browser) -> None:
        await sign_in(browser, issuer, "petra@corp.example", ["it-admins"])
        shown = await browser.get("/admin/policy")
        assert "Try a draft on recorded traffic" in shown.text and runtime.policy.digest in shown.text
        token = csrf(shown.text)
        result = await browser.post("/admin/policy/simulate", data={"csrf": token, "since": "1d"}, files=draft)
        assert result.status_code == 200, result.text
        assert "would change" in result.text and "block → warn" in result.text
        assert f'/admin/decisions/{stopped["decision_id"]}' in result.text  # an example reference, to look at
        forged = await browser.post("/admin/policy/simulate", data={"csrf": "forged"}, files=draft)
        assert forged.status_code == 403
        invalid = await browser.post("/admin/policy/simulate", data={"csrf": token},
                                     files=[("files", ("default.yaml", b"rules: [", "application/yaml"))])
        assert invalid.status_code == 422 and "not valid YAML" in invalid.text
        compared = await browser.get("/admin/policy/diff", params={"a": runtime.policy.digest})
        assert compared.status_code == 200 and "These are the same policy" in compared.text
        sv = await browser.post("/admin/policy/simulate?lang=sv", data={"csrf": token, "since": "1d"}, files=draft)
        assert "skulle ändras" in sv.text
    browse(app, steps)
