"""The decision page in a real browser: Debian's Chromium, headless, driven by Playwright.

Against the real `detour serve` of the session (SQLite store, helpdesk webhook to a local
receiver) and, for warnings, the real Squid in front of the local origin site. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ARTIFACTS, CORPUS
from tests.services import DetourService, Origin

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)>.csv"


def blocked(detour: DetourService, language: str = "en", name: str = "customers_q3.csv",
            blob: bytes | None = None) -> dict[str, Any]:
    data = blob if blob is not None else (CORPUS / "customers_q3.csv").read_bytes()
    answer = httpx.post(f"{detour.http}/v1/inspect", files={"file": (name, data)},
                        data={"destination": "https://wetransfer.com/upload"},
                        headers={"Accept-Language": language, **detour.auth}, timeout=60)
    report: dict[str, Any] = answer.json()
    assert report["decision"] == "block"
    return report


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB")
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.parametrize("language, title, instead", [
    ("en", "Sorry, this upload was stopped", "What you can do instead, right now"),
    ("sv", "Tyvärr, den här uppladdningen stoppades", "Det här kan du göra i stället, redan nu"),
    ("nl", "Sorry, deze upload is tegengehouden", "Dit kun je nu in plaats daarvan doen"),
])
def test_the_page_in_each_language(browser: Any, detour_service: DetourService, language: str, title: str,
                                   instead: str) -> None:
    report = blocked(detour_service, language)
    context = browser.new_context(locale={"en": "en-GB", "sv": "sv-SE", "nl": "nl-NL"}[language])
    try:
        page = context.new_page()
        page.goto(f"{detour_service.http}/d/{report['decision_id']}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("h1").inner_text() == title
        assert page.locator("#instead").inner_text() == instead
        routes = page.locator(".route a.go")  # the review is Detour's own form, not a route away
        assert routes.count() == len([a for a in report["alternatives"]
                                      if a["url"] and a["kind"] != "request_review"]) >= 2
        assert page.locator(".reference").inner_text() == report["decision_id"]
        assert report["reasons"][0]["message"] in page.locator("#main").inner_text()
        shot(page, f"decision-page-{language}.png")
        other = "sv" if language != "sv" else "nl"  # the switcher
        page.click(f"header nav a[lang={other}]")
        assert page.locator("html").get_attribute("lang") == other
    finally:
        context.close()


def test_the_page_fits_a_phone_and_works_by_keyboard(browser: Any, detour_service: DetourService) -> None:
    report = blocked(detour_service)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{detour_service.http}/d/{report['decision_id']}")
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        shot(page, "decision-page-phone.png")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"  # first stop: skip to the page
        for _ in range(12):  # then the language links, then the first route's button
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.className") == "go":
                break
        assert page.evaluate("document.activeElement.className") == "go"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # the focus can be seen
    finally:
        context.close()


def test_a_route_link_goes_through_the_tracker(page: Any, detour_service: DetourService) -> None:
    report = blocked(detour_service)
    offer = next(a for a in report["alternatives"] if a["url"])
    page.goto(f"{detour_service.http}/d/{report['decision_id']}")
    # The route's site itself is not reachable from here: what counts is where the browser is sent.
    with page.expect_request(lambda request: request.url == offer["url"]) as sent:
        page.locator(f"#route-{offer['id']} a.go").click(no_wait_after=True)
    tracker = sent.value.redirected_from
    assert tracker is not None and tracker.url == f"{detour_service.http}/d/{report['decision_id']}/go/{offer['id']}"
    again = page.context.new_page()  # the first tab is busy failing to reach the route's site
    again.goto(f"{detour_service.http}/d/{report['decision_id']}")
    assert "You opened this route" in again.locator(f"#route-{offer['id']}").inner_text()


def test_the_reference_is_copied_with_one_click(browser: Any, detour_service: DetourService) -> None:
    report = blocked(detour_service)
    context = browser.new_context(locale="en-GB", permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(f"{detour_service.http}/d/{report['decision_id']}")
        button = page.locator("#copy")
        assert button.is_visible()  # shown only where the script runs
        button.click()
        page.wait_for_function("document.getElementById('copied').textContent.length > 0")
        assert page.locator("#copied").inner_text() == "Copied"
        assert page.evaluate("navigator.clipboard.readText()") == report["decision_id"]
    finally:
        context.close()


def test_staff_ask_for_a_review_and_the_helpdesk_from_the_page(page: Any, detour_service: DetourService,
                                                               helpdesk: Origin) -> None:
    report = blocked(detour_service)
    decision = report["decision_id"]
    page.goto(f"{detour_service.http}/d/{decision}")
    page.click("#review summary")
    page.fill("#tool", "WeTransfer Pro")
    page.fill("#why-needed", "Large campaign videos for the agency")
    page.fill("#needed_by", "Friday")
    with page.expect_navigation():
        page.click("#review button[type=submit]")
    assert "You asked IT to review: WeTransfer Pro · status: waiting for IT" in page.locator("#review").inner_text()
    page.fill("#note", "The agency needs it today.")
    with page.expect_navigation():
        page.click("#helpdesk ~ form button[type=submit]")
    assert "Sent to the helpdesk. Ticket number: INC0010001" in page.locator("#main").inner_text()
    shot(page, "decision-page-after-review-and-ticket.png")
    events = {json.loads(r.body)["event"] for r in helpdesk.received if decision.encode() in r.body}
    assert events == {"review_request", "ticket"}


def test_a_hostile_file_name_is_shown_as_text(page: Any, detour_service: DetourService) -> None:
    report = blocked(detour_service, name=HOSTILE)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{detour_service.http}/d/{report['decision_id']}")
    assert page.locator("p.what strong").first.inner_text() == HOSTILE
    assert page.locator("main img").count() == 0 and not dialogs
    shot(page, "decision-page-hostile-name.png")


def test_the_redacted_copy_downloads(page: Any, detour_service: DetourService, tmp_path: Path) -> None:
    report = blocked(detour_service)
    page.goto(f"{detour_service.http}/d/{report['decision_id']}")
    page.set_input_files("#redact-file", str(CORPUS / "customers_q3.csv"))
    with page.expect_download() as download:
        page.click("#redact form button[type=submit]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "customers_q3-redacted.csv"
    text = saved.read_text()
    assert text.count("[e-mail address]") == 60 and "@" not in text


def test_a_warning_through_squid_goes_on_after_a_business_reason(browser: Any, squid: str, origin: Origin,
                                                                 detour_service: DetourService,
                                                                 tmp_path: Path) -> None:
    from tests.files import invoice

    upload = tmp_path / "invoice-118.txt"
    upload.write_bytes(invoice(secrets.randbelow(10**9)))  # a file nobody justified before
    origin.clear()
    context = browser.new_context(proxy={"server": squid}, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(f"{origin.url}/form")
        page.set_input_files("input[type=file]", str(upload))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.title().startswith("Check before this upload goes")
        assert not [r for r in origin.received if r.method == "POST"]  # held until there is a reason
        shot(page, "squid-warning-page-en.png")
        page.fill("#justification", "Supplier invoice; Finance asked me to send it to their accountant.")
        with page.expect_navigation():
            page.click("#proceed ~ form button[type=submit]")
        assert page.url.startswith(detour_service.http)  # Detour's own page took the reason
        assert "Thank you, your reason is recorded" in page.locator("#main").inner_text()
        page.goto(f"{origin.url}/form")
        page.set_input_files("input[type=file]", str(upload))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.content().find("stored") >= 0
    finally:
        context.close()
    [arrived] = [r for r in origin.received if r.method == "POST"]
    assert upload.read_bytes() in arrived.body


def test_the_api_docs_render_from_detours_own_files(browser: Any, detour_service: DetourService) -> None:
    """/docs (Swagger UI) and /redoc load nothing from a CDN: requests to any other host are refused, and the
    pages still render Detour's API."""
    context = browser.new_context()
    try:
        page = context.new_page()
        elsewhere: list[str] = []

        def only_detour(route: Any) -> None:
            if route.request.url.startswith(detour_service.http):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_detour)
        page.goto(f"{detour_service.http}/docs")
        page.locator(".opblock-summary-path", has_text="/v1/inspect").first.wait_for(timeout=30_000)
        page.goto(f"{detour_service.http}/redoc")
        page.get_by_text("Inspect", exact=False).first.wait_for(timeout=30_000)
        assert elsewhere == []
    finally:
        context.close()
