"""The decision page as staff use it, in Debian's Chromium: en, sv and nl, at phone and desktop widths.

One route recommended (a primary button with a verb), the copy without the sensitive values right next to
it (and linked from the block page a proxy shows), one way to ask for a review, answers with their ticket
numbers, times in the person's own zone, nothing that breaks across lines; the not-found page in the asked
language. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ARTIFACTS, CORPUS
from tests.e2e.test_browser_pages import blocked
from tests.services import DetourService, Origin

pytestmark = pytest.mark.slow

LOCALES = {"en": "en-GB", "sv": "sv-SE", "nl": "nl-NL"}
WIDTHS = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}
ACTIONS = {"en": "Share it on the partner SharePoint site", "sv": "Dela den på partnerplatsen i SharePoint",
           "nl": "Deel het via de partnersite in SharePoint"}
COPY = {"en": "Or send a copy without the sensitive values", "sv": "Eller skicka en kopia utan de känsliga uppgifterna",
        "nl": "Of stuur een kopie zonder de gevoelige gegevens"}


@pytest.fixture
def person(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    language, width = request.param
    context = browser.new_context(locale=LOCALES[language], viewport=WIDTHS[width], timezone_id="Europe/Stockholm")
    try:
        yield context.new_page(), language, width
    finally:
        context.close()


def lines_of(page: Any, selector: str) -> list[int]:
    """How many lines each element matching ``selector`` takes (its inline boxes' distinct rows)."""
    return list(page.eval_on_selector_all(selector, """nodes => nodes.map(n => {
        const rows = new Set([...n.getClientRects()].map(r => Math.round(r.top)));
        return rows.size; })"""))


@pytest.mark.parametrize("person", [(lang, width) for lang in LOCALES for width in WIDTHS], indirect=True,
                         ids=[f"{lang}-{width}" for lang in LOCALES for width in WIDTHS])
def test_one_route_to_take_the_copy_beside_it_and_nothing_broken(person: tuple[Any, str, str],
                                                                 detour_service: DetourService) -> None:
    page, language, width = person
    report = blocked(detour_service, language)
    page.goto(f"{detour_service.http}/d/{report['decision_id']}")
    primary = page.locator("a.go:not(.secondary)")
    assert primary.count() == 1 and primary.inner_text() == ACTIONS[language]
    assert page.locator(".route.recommended .badge").is_visible()
    # the copy without the values comes right after the route to take, before the other ways
    order = page.evaluate("""() => ['.route.recommended', '#redact', '#other-ways'].map(
        s => document.querySelector(s).getBoundingClientRect().top)""")
    assert order == sorted(order)
    assert page.locator("#redact h3").inner_text() == COPY[language]
    # one way to ask for a review: Detour's own form, never a route card that leaves for the helpdesk's site
    assert page.locator("a[href*='/go/request-review']").count() == 0
    assert page.locator("#review form").count() == 1
    assert all(rows == 1 for rows in lines_of(page, "main code"))  # the masked examples never break
    text = page.locator("main").inner_text()
    assert "EMAIL_ADDRESS" not in text and "[email]" not in text
    page.screenshot(path=str(ARTIFACTS / f"decision-page-{language}-{width}.png"), full_page=True)


@pytest.mark.parametrize("person", [("sv", "phone")], indirect=True, ids=["sv-phone"])
def test_answers_come_back_with_their_ticket_numbers_and_local_times(person: tuple[Any, str, str],
                                                                     detour_service: DetourService,
                                                                     helpdesk: Origin) -> None:
    page, language, _ = person
    from tests.files import invoice

    warned = httpx.post(f"{detour_service.http}/v1/inspect", files={"file": ("faktura.txt", invoice(4711))},
                        data={"destination": "https://wetransfer.com/"}, headers={"Accept-Language": language,
                                                                                   **detour_service.auth},
                        timeout=60).json()
    assert warned["decision"] == "warn"
    page.goto(f"{detour_service.http}/d/{warned['decision_id']}")
    page.fill("#justification", "Byrån behöver fakturan för bokslutet; överenskommet med ekonomi.")
    with page.expect_navigation():
        page.click("#proceed ~ form button[type=submit]")
    status = page.locator("#main .status").first.inner_text()
    assert "UTC" not in status and re.search(r"\d\d[:.]\d\d (CET|CEST|GMT\+[12]|MEZ|MESZ)", status), status
    page.click("#review summary")
    page.fill("#tool", "WeTransfer Pro")
    page.fill("#why-needed", "Stora filmfiler till byrån")
    with page.expect_navigation():
        page.click("#review button[type=submit]")
    review = page.locator("#review").inner_text()
    assert "Ärendenummer: INC" in review and "väntar på IT" in review
    assert page.locator("#review form").count() == 0  # the status, not a new empty form
    page.click("#wrong summary")
    page.fill("#believed", "En vanlig leverantörsfaktura, inga kunduppgifter.")
    with page.expect_navigation():
        page.click("#wrong button[type=submit]")
    wrong = page.locator("#wrong").inner_text()
    assert "Ärendenummer: INC" in wrong and page.locator("#wrong form").count() == 0
    taken = httpx.get(f"{detour_service.http}/d/{warned['decision_id']}/go/{warned['alternatives'][0]['id']}",
                      follow_redirects=False, timeout=30)  # the route taken (its site is not reachable from here)
    assert taken.status_code == 303
    page.goto(f"{detour_service.http}/d/{warned['decision_id']}")
    page.click("#review summary")
    page.click("#wrong summary")
    shot = ARTIFACTS / "decision-page-sv-phone-after-review.png"
    page.screenshot(path=str(shot), full_page=True)
    rows = lines_of(page, ".taken, .ticket, main code")
    assert len(rows) >= 4 and all(r == 1 for r in rows), rows


def test_the_block_page_a_proxy_shows_links_to_the_copy(browser: Any, squid: str, origin: Origin,
                                                        detour_service: DetourService) -> None:
    """Through Squid and Detour's ICAP service, in a Dutch browser on a phone: the block page the proxy answers
    recommends one route and links to the copy without the values on the decision's own page."""
    context = browser.new_context(proxy={"server": squid}, locale="nl-NL", viewport=WIDTHS["phone"])
    try:
        page = context.new_page()
        page.goto(f"{origin.url}/form")
        page.set_input_files("input[type=file]", str(CORPUS / "customers_q3.csv"))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Sorry, deze upload is tegengehouden"
        assert page.locator("a.go:not(.secondary)").inner_text() == ACTIONS["nl"]
        copy = page.locator("p.copy a")
        assert copy.inner_text() == "Of download een kopie zonder de gevoelige gegevens"
        assert re.fullmatch(rf"{re.escape(detour_service.http)}/d/DTR-[A-Z0-9-]+#redact", copy.get_attribute("href"))
        page.screenshot(path=str(ARTIFACTS / "proxy-block-page-nl-phone.png"), full_page=True)
        with page.expect_navigation():
            copy.click()
        assert page.locator("#redact").is_visible()
    finally:
        context.close()


@pytest.mark.parametrize("language, title", [("en", "No decision with this reference"),
                                             ("sv", "Inget beslut med den här referensen"),
                                             ("nl", "Geen beslissing met deze referentie")])
def test_the_not_found_page_in_the_asked_language(browser: Any, detour_service: DetourService, language: str,
                                                  title: str) -> None:
    context = browser.new_context(locale="en-GB")
    try:
        page = context.new_page()
        page.goto(f"{detour_service.http}/d/DTR-AAAA-BBBB-CCCC-DDDD?lang={language}")
        assert page.locator("h1").inner_text() == title
        assert "helpdesk@corp-example.com" in page.locator("main").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"not-found-{language}.png"))
    finally:
        context.close()
