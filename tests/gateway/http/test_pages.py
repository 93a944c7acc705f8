"""The decision page: in the decision's language, tracked route links, review requests, "looks wrong"."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import CORPUS
from tests.factories import AppClient


@pytest.fixture(scope="module")
def app(settings: Settings) -> tuple[AppClient, Runtime]:
    runtime = Runtime.build(settings)
    return AppClient(create_app(settings, runtime)), runtime


def blocked(client: AppClient, name: str = "customers_q3.csv", language: str = "nl") -> dict:  # type: ignore[type-arg]
    with (CORPUS / name).open("rb") as fh:
        response = client.post("/v1/inspect", files={"file": (name, fh)}, data={"destination": "wetransfer.com"},
                               headers={"Accept-Language": language})
    report = response.json()
    assert report["decision"] == "block"
    return report  # type: ignore[no-any-return]


def test_the_decision_page_shows_the_routes_in_the_decisions_language(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    report = blocked(client, language="sv")
    page = client.get(f"/d/{report['decision_id']}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Tyvärr, den här uppladdningen stoppades" in html and report["decision_id"] in html
    first, *others = report["alternatives"]
    # the first route is the one to take: a primary button with a verb; the others are secondary choices
    assert (f'<a class="go" href="/d/{report["decision_id"]}/go/{first["id"]}">{first["action"]}</a>' in html)
    assert first["action"] == "Dela den på partnerplatsen i SharePoint"
    for offer in others:
        if offer["kind"] == "request_review":  # one review path: Detour's own form, not a link away
            assert f'/go/{offer["id"]}"' not in html and 'id="review"' in html
        else:
            assert f'<a class="go secondary" href="/d/{report["decision_id"]}/go/{offer["id"]}">' in html
    assert html.count('class="go"') == 1


def test_a_route_link_is_recorded_and_redirects_to_the_catalogue_url(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = blocked(client)
    offer = report["alternatives"][0]
    response = client.get(f"/d/{report['decision_id']}/go/{offer['id']}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == offer["url"]
    stored = runtime.find(report["decision_id"])
    assert stored is not None and stored.history.routes_taken == (offer["id"],)


@pytest.mark.parametrize("route", ["https%3A%2F%2Fevil.example", "..%2F..%2Fhealthz", "no-such-route"])
def test_route_links_only_go_to_routes_offered_with_the_decision(app: tuple[AppClient, Runtime],
                                                                 route: str) -> None:
    client, _ = app
    report = blocked(client)
    response = client.get(f"/d/{report['decision_id']}/go/{route}", follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


def test_unknown_decisions_are_404(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    assert client.get("/d/DTR-AAAA-BBBB-CCCC-DDDD").status_code == 404
    assert client.get("/d/" + "x" * 300).status_code == 404
    person = client.get("/d/DTR-AAAA-BBBB-CCCC-DDDD", headers={"Accept": "text/html", "Accept-Language": "sv"})
    assert person.headers["content-type"].startswith("text/html")  # a page for a person with a mistyped reference
    assert "Inget beslut med den här referensen" in person.text
    program = client.get("/d/DTR-AAAA-BBBB-CCCC-DDDD", headers={"Accept": "application/json"})
    assert program.json()["error"]["code"] == "http_404"


def test_staff_can_ask_it_to_review_the_tool_and_see_the_status(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = blocked(client, language="en")
    decision = report["decision_id"]
    page = client.get(f"/d/{decision}").text
    assert f'action="/d/{decision}/review"' in page and 'value="wetransfer.com"' in page
    answer = client.submit(decision, "review", {"tool": "WeTransfer Pro", "why": "send the campaign <b>"
                         "videos</b> to the agency", "needed_by": "Friday"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/d/{decision}#review"
    [review] = runtime.find(decision).history.reviews
    assert (review.tool, review.needed_by, review.status) == ("WeTransfer Pro", "Friday", "open")
    page = client.get(f"/d/{decision}").text
    assert "You asked IT to review: <strong>WeTransfer Pro</strong>" in page and "waiting for IT" in page


def test_a_review_request_needs_a_tool_and_a_reason(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    decision = blocked(client)["decision_id"]
    answer = client.submit(decision, "review", {"tool": " ", "why": ""})
    # a page for the person, in the decision's language (Dutch here), with the way back
    assert answer.status_code == 400 and "Geef aan welke tool of site je nodig hebt" in answer.text
    assert f'href="/d/{decision}?lang=nl"' in answer.text
    assert client.post("/d/DTR-AAAA-BBBB-CCCC-DDDD/review", data={"tool": "x", "why": "y"}).status_code == 404


def test_staff_can_say_a_decision_looks_wrong(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    decision = blocked(client, language="nl")["decision_id"]
    answer = client.submit(decision, "wrong", {"believed": "a list of our own test accounts"},
                         follow_redirects=False)
    assert answer.status_code == 303
    stored = runtime.find(decision)
    assert stored is not None and stored.history.reported_wrong
    assert stored.report.findings  # IT sees the masked findings with the report
    assert "Dank je: IT bekijkt deze beslissing" in client.get(f"/d/{decision}").text


def test_proxy_block_pages_carry_no_forms(app: tuple[AppClient, Runtime]) -> None:
    from gateway.render.pages import render_block_page

    client, runtime = app
    decision = blocked(client)["decision_id"]
    stored = runtime.find(decision)
    assert stored is not None and "<form" not in render_block_page(stored.report)


def test_a_form_from_another_site_is_refused(app: tuple[AppClient, Runtime]) -> None:
    """Cross-site request forgery: the decision id travels in links, so the forms need more than the id."""
    client, runtime = app
    decision = blocked(client, language="en")["decision_id"]
    token = runtime.form_tokens.issue(decision)
    forged = {"tool": "anything", "why": "forged by another site", "form_token": token}
    evil = client.post(f"/d/{decision}/review", data=forged, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "could not be accepted" in evil.text
    no_token = client.post(f"/d/{decision}/review", data={"tool": "x", "why": "no token at all"})
    assert no_token.status_code == 403
    other = runtime.form_tokens.issue("DTR-0000-0000-0000-0000")
    wrong_token = client.post(f"/d/{decision}/wrong", data={"believed": "x", "form_token": other})
    assert wrong_token.status_code == 403
    for odd in ("é", "x" * 5000):  # whatever a client makes of a token: refused, never a 500
        assert client.post(f"/d/{decision}/wrong", data={"believed": "x", "form_token": odd}).status_code == 403
    not_utf8 = client.post(f"/d/{decision}/wrong", content=b"believed=x&form_token=%ff",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_utf8.status_code == 403
    stored = runtime.find(decision)
    assert stored is not None and not stored.history.reviews and not stored.history.reported_wrong
    same_site = client.post(f"/d/{decision}/review", data=forged, headers={"Origin": "http://detour.test"},
                            follow_redirects=False)
    assert same_site.status_code == 303


def test_a_copy_for_a_decision_that_is_not_there_reads_no_file(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    sent: list[int] = []

    async def body() -> Any:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 65536

    answer = client.post("/d/DTR-0000-0000-0000-0000/redact", content=body(),
                         headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert answer.status_code == 404 and len(sent) <= 1

