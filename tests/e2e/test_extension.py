"""Detour's browser extension in Debian's Chromium, against the run's real `detour serve`.

The extension is loaded in the run's one browser and configured by enterprise policy (tests/browser.py).
Pages served here take files as collaboration sites do: a form, a drop zone, a paste target, a
single-page app that uploads with fetch + FormData. Each records what its own script got, so "the page
never got it" and "the page got the same bytes" are measured, not assumed. Screenshots of the overlay go
to test-artifacts/.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import SANCTIONED_HOST, Extension, Relay, UploadSite, can_manage
from tests.conftest import ARTIFACTS, CORPUS, EXTENSION_TIMEOUT, EXTENSION_USER
from tests.services import DetourService, Origin

pytestmark = pytest.mark.slow

LOCALES = {"en": "en-GB", "sv": "sv-SE", "nl": "nl-NL"}
TITLES = {"en": "Sorry, this file can't go here", "sv": "Tyvärr, den här filen kan inte skickas hit",
          "nl": "Sorry, dit bestand kan hier niet naartoe"}
ROUTES = {"en": "What you can do instead, right now", "sv": "Det här kan du göra i stället, redan nu",
          "nl": "Dit kun je nu in plaats daarvan doen"}
FIRST_ROUTE = {"en": "Share it on the partner SharePoint site", "sv": "Dela den på partnerplatsen i SharePoint",
               "nl": "Deel het via de partnersite in SharePoint"}  # the route to take, as a verb


@pytest.fixture
def tab(browser: Any, upload_site: UploadSite, relay: Relay) -> Iterator[Any]:
    """A tab in the browser's default context: the one with the extension."""
    upload_site.got.clear()
    page = browser.contexts[0].new_page()
    try:
        yield page
    finally:
        page.close()


def speak(page: Any, language: str) -> None:
    """The tab's browser language, as a Swedish or Dutch browser would have it (navigator.languages and
    Accept-Language)."""
    cdp = page.context.new_cdp_session(page)
    agent = page.evaluate("navigator.userAgent")
    tag = LOCALES[language]
    cdp.send("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": f"{tag},{language}"})
    cdp.send("Emulation.setLocaleOverride", {"locale": tag})


def opened(page: Any, url: str, language: str = "en") -> Any:
    speak(page, language)
    page.goto(url)
    return page


class Overlay:
    """The extension's dialog, as the person sees and uses it. It is drawn in a closed shadow root (the
    page's script can't read or press it), so the test reaches it through the DevTools protocol, and clicks
    and types with real input events: the only ones the overlay takes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def _root(self, what: str) -> str | None:
        """The remote object of the shadow root that holds ``what`` (a CSS selector), if one does."""
        tree = self.cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        stack = [tree]
        while stack:
            node = stack.pop()
            if node.get("nodeName") == "DETOUR-OVERLAY":
                for root in node.get("shadowRoots", []):
                    handle = self.cdp.send("DOM.resolveNode", {"backendNodeId": root["backendNodeId"]})["object"]
                    found = self._call(handle["objectId"], "function(s) { return !!this.querySelector(s); }", what)
                    if found:
                        return str(handle["objectId"])
            stack.extend(node.get("children", []) + node.get("shadowRoots", []) + (
                [node["contentDocument"]] if "contentDocument" in node else []))
        return None

    def _call(self, object_id: str, function: str, *args: Any) -> Any:
        answer = self.cdp.send("Runtime.callFunctionOn", {
            "objectId": object_id, "functionDeclaration": function, "returnByValue": True,
            "arguments": [{"value": a} for a in args]})
        return answer["result"].get("value")

    def wait(self, what: str = ".dialog", seconds: float = 30) -> Overlay:
        deadline = time.monotonic() + seconds
        while self._root(what) is None:
            assert time.monotonic() < deadline, f"no {what} in the overlay within {seconds} s"
            self.page.wait_for_timeout(100)
        return self

    def shown(self, what: str = ".dialog") -> bool:
        return self._root(what) is not None

    def run(self, function: str, selector: str, *args: Any) -> Any:
        root = self._root(selector)
        assert root is not None, f"no {selector} in the overlay"
        on_node = f"function(s, ...a) {{ const n = this.querySelector(s); return ({function})(n, ...a); }}"
        return self._call(root, on_node, selector, *args)

    def text(self, selector: str = ".dialog") -> str:
        return str(self.run("n => n.innerText", selector))

    def attribute(self, name: str, selector: str = ".dialog") -> str | None:
        value = self.run("(n, a) => n.getAttribute(a)", selector, name)
        return None if value is None else str(value)

    def count(self, selector: str) -> int:
        root = self._root(selector)
        return 0 if root is None else int(self._call(root, "function(s) { return this.querySelectorAll(s).length; }",
                                                     selector))

    def click(self, selector: str) -> None:
        box = self.run("n => { n.scrollIntoView({block: 'center'}); const r = n.getBoundingClientRect(); "
                       "return [r.x + r.width / 2, r.y + r.height / 2]; }", selector)
        self.page.mouse.click(*box)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.run("n => { n.select(); }", selector)
        self.page.keyboard.insert_text(text)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def contacts() -> Path:
    return CORPUS / "customers_q3.csv"


def benign() -> Path:
    return CORPUS / "roadmap.docx"


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def events(page: Any) -> list[str]:
    return list(page.evaluate("window.events"))


def drop(page: Any, selector: str, *paths: Path) -> None:
    """Drag files from the desktop onto an element and let go: the browser's own drag events (trusted), with
    the files as the operating system hands them over."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    data = {"items": [], "files": [str(p) for p in paths], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    cdp.detach()


def paste_text(page: Any, selector: str, text: str) -> None:
    """Copy text to the clipboard, then Ctrl+V into the element: the browser's own paste event."""
    page.focus(selector)
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    page.keyboard.press("Control+V")


def paste_file(page: Any, selector: str, path: Path, mime: str) -> None:
    """A file pasted (from a screenshot tool, a file manager): the page's paste event with the file. The
    operating system's clipboard can't carry a file here, so the event is made in the page."""
    page.focus(selector)
    page.evaluate("""([selector, name, type, bytes]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], name, {type}));
        document.querySelector(selector).dispatchEvent(
          new ClipboardEvent("paste", {bubbles: true, cancelable: true, clipboardData: transfer}));
    }""", [selector, path.name, mime, list(path.read_bytes())])


def stored(detour: DetourService, decision_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{detour.http}/v1/decisions/{decision_id}", headers=detour.auth, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def learnt(browser: Any, extension: Extension, host: str, seconds: float = 20) -> str:
    """What the extension learnt of a site's on_error while Detour was up (read on its options page)."""
    page = browser.contexts[0].new_page()
    try:
        page.goto(f"{extension.origin}/options.html")
        deadline = time.monotonic() + seconds
        while True:
            known = page.evaluate("host => chrome.storage.local.get('destinations')"
                                  ".then(s => (s.destinations || {})[host]?.onError || null)", host)
            if known or time.monotonic() > deadline:
                return str(known)
            page.wait_for_timeout(100)
    finally:
        page.close()


@pytest.mark.parametrize("language", ["en", "sv", "nl"])
def test_a_contact_list_chosen_in_a_form_never_reaches_the_page(tab: Any, upload_site: UploadSite, relay: Relay,
                                                                detour_service: DetourService,
                                                                language: str) -> None:
    opened(tab, upload_site.url("form"), language)
    tab.set_input_files("#file", str(contacts()))
    overlay = Overlay(tab).wait()
    assert overlay.text("h2") == TITLES[language]
    assert ROUTES[language] in overlay.text()
    assert overlay.attribute("class", "a.route") == "route primary"
    assert FIRST_ROUTE[language] in overlay.text("a.route")
    decision_id = str(overlay.attribute("data-decision"))
    assert overlay.attribute("href", "a.route") == f"{relay.url}/d/{decision_id}/go/partner-sharepoint"  # tracked
    assert decision_id in overlay.text(".helpdesk-message")  # the reference, in the message
    assert overlay.attribute("href", "a.review") == f"{relay.url}/d/{decision_id}?lang={language}#review"
    shot(tab, f"extension-blocked-{language}.png")
    # the page's script never heard of the file, can't read the dialog, and the form holds none
    assert events(tab) == []
    assert tab.evaluate("document.querySelector('detour-overlay')?.shadowRoot ?? null") is None
    assert tab.evaluate("document.getElementById('file').files.length") == 0
    overlay.click("button.close")
    assert not overlay.shown()
    with tab.expect_navigation():
        tab.click("#send")
    [posted] = upload_site.wait_for(1)
    assert posted.how == "form-post" and posted.file() == b""
    report = stored(detour_service, decision_id)
    assert report["decision"] == "block" and report["user"] == EXTENSION_USER
    assert report["destination"]["host"] == "127.0.0.1"


def test_a_benign_file_reaches_the_form_byte_for_byte(tab: Any, upload_site: UploadSite) -> None:
    opened(tab, upload_site.url("form"))
    tab.set_input_files("#file", str(benign()))
    [got] = upload_site.wait_for(1)
    assert events(tab) == ["input", "change"]  # the page's own events, once, after the check
    assert (got.how, got.name, got.type) == ("form", benign().name, DOCX)
    assert got.file() == benign().read_bytes()
    assert not Overlay(tab).shown()
    with tab.expect_navigation():
        tab.click("#send")
    posted = upload_site.wait_for(2)[1]
    assert posted.how == "form-post" and posted.file() == benign().read_bytes()


def test_a_form_sent_while_its_file_is_checked_goes_with_the_file(tab: Any, upload_site: UploadSite) -> None:
    big = CORPUS / "products.csv"
    opened(tab, upload_site.url("form"))
    tab.set_input_files("#file", str(big))
    with tab.expect_navigation():
        tab.click("#send")  # at once: the form waits for the check, then goes, never without its file
    posted = [g for g in upload_site.wait_for(2) if g.how == "form-post"]
    assert [p.file() for p in posted] == [big.read_bytes()]


def test_several_files_at_once_none_goes_when_one_is_stopped(tab: Any, upload_site: UploadSite) -> None:
    opened(tab, upload_site.url("form"))
    tab.set_input_files("#many", [str(benign()), str(contacts())])
    overlay = Overlay(tab).wait()
    assert "customers_q3.csv" in overlay.text(".file")
    assert overlay.count(".hint") >= 1  # "the other files you chose were not sent either"
    overlay.click("button.close")
    assert events(tab) == [] and upload_site.got == []
    tab.set_input_files("#many", [str(benign()), str(CORPUS / "blog_post.txt")])
    got = upload_site.wait_for(2)
    assert sorted(g.name for g in got) == ["blog_post.txt", "roadmap.docx"]
    assert events(tab) == ["many"]


def test_a_drop_zone_gets_a_benign_file_and_never_a_contact_list(tab: Any, upload_site: UploadSite) -> None:
    opened(tab, upload_site.url("drop"))
    drop(tab, "#zone", contacts())
    overlay = Overlay(tab).wait()
    assert events(tab) == []
    overlay.click("button.close")
    drop(tab, "#zone", benign())
    [got] = upload_site.wait_for(1)
    assert events(tab) == ["drop"]
    assert got.name == benign().name and got.file() == benign().read_bytes()


def test_a_paste_target_gets_short_text_and_benign_files_never_a_pasted_contact_list(tab: Any, browser: Any,
                                                                                     upload_site: UploadSite) -> None:
    browser.contexts[0].grant_permissions(["clipboard-read", "clipboard-write"], origin=upload_site.url("")[:-1])
    opened(tab, upload_site.url("paste"))
    paste_text(tab, "#box", contacts().read_text())  # long text: checked like a file
    overlay = Overlay(tab).wait()
    assert events(tab) == [] and tab.input_value("#box") == ""
    overlay.click("button.close")
    paste_text(tab, "#box", "See you at ten.")  # short text: not held
    paste_file(tab, "#box", benign(), DOCX)
    got = upload_site.wait_for(2)
    assert events(tab) == ["paste", "paste"]
    assert {g.how for g in got} == {"paste-text", "paste"}
    assert next(g for g in got if g.how == "paste").file() == benign().read_bytes()
    long_benign = (CORPUS / "blog_post.txt").read_text()
    assert len(long_benign) > 500
    tab.fill("#box", "")
    paste_text(tab, "#box", long_benign)  # long, and fine: the page's handler gets it, the box shows it
    got = upload_site.wait_for(3)
    assert got[2].how == "paste-text" and got[2].body.decode() == long_benign
    assert tab.input_value("#box") == "See you at ten." + long_benign or tab.input_value("#box") == long_benign


def test_a_single_page_app_never_gets_a_contact_list_and_uploads_a_benign_file(tab: Any,
                                                                              upload_site: UploadSite) -> None:
    opened(tab, upload_site.url("app"), "sv")
    with tab.expect_file_chooser() as chooser:
        tab.click("#choose")
    chooser.value.set_files(str(contacts()))
    overlay = Overlay(tab).wait()
    assert overlay.text("h2") == TITLES["sv"]
    assert events(tab) == [] and upload_site.got == []
    overlay.click("button.close")
    with tab.expect_file_chooser() as chooser:
        tab.click("#choose")
    chooser.value.set_files(str(benign()))
    [got] = upload_site.wait_for(1)
    assert got.how == "app" and got.file() == benign().read_bytes()
    tab.wait_for_function("document.getElementById('state').textContent.startsWith('Uploaded')")


@pytest.mark.parametrize("page", ["shadow", "frame"])
def test_inputs_in_shadow_roots_and_blank_frames_are_checked_too(tab: Any, upload_site: UploadSite,
                                                                  page: str) -> None:
    """A web component's file input (inside its shadow root), and one in an about:blank frame the page
    wrote itself (rich-text editors do): both are the page's, and both are checked."""
    opened(tab, upload_site.url(page))
    target = tab.locator("upload-box").locator("input[type=file]") if page == "shadow" \
        else tab.frame_locator("#editor").locator("input[type=file]")
    target.set_input_files(str(contacts()))
    Overlay(tab).wait()
    assert tab.evaluate("document.querySelectorAll('detour-overlay').length") >= 1  # on the page itself
    assert events(tab) == [] and upload_site.got == []
    target.set_input_files(str(benign()))
    [got] = upload_site.wait_for(1)
    assert got.file() == benign().read_bytes() and events(tab) == ["change"]


def test_the_page_cannot_press_send_for_the_person(tab: Any, upload_site: UploadSite, tmp_path: Path) -> None:
    """The overlay takes only clicks the person made: a page that clicks "send" on a warning (with a reason
    it typed) gets nothing."""
    from tests.files import invoice

    upload = tmp_path / "invoice-311.txt"
    upload.write_bytes(invoice(secrets.randbelow(10**9)))
    opened(tab, upload_site.url("form"))
    tab.set_input_files("#file", str(upload))
    overlay = Overlay(tab).wait()
    assert overlay.attribute("data-action") == "warn"
    overlay.run("n => { n.value = 'The page typed this reason for the person.'; }", "textarea")
    overlay.run("n => n.click()", "button.send")  # as a page's script would: an untrusted click
    tab.wait_for_timeout(1500)
    assert overlay.shown() and upload_site.got == [] and events(tab) == []
    overlay.click("button.cancel")
    assert not overlay.shown() and upload_site.got == []


def test_a_warned_file_goes_after_a_business_reason(tab: Any, upload_site: UploadSite, tmp_path: Path,
                                                   detour_service: DetourService) -> None:
    from tests.files import invoice

    upload = tmp_path / "invoice-204.txt"
    upload.write_bytes(invoice(secrets.randbelow(10**9)))
    opened(tab, upload_site.url("form"))
    tab.set_input_files("#file", str(upload))
    overlay = Overlay(tab).wait()
    assert overlay.attribute("data-action") == "warn"
    decision_id = overlay.attribute("data-decision")
    assert overlay.text("h2") == "Check before this file goes"
    assert "Safer ways to send it" in overlay.text()
    assert events(tab) == []
    shot(tab, "extension-warning-en.png")
    overlay.type("textarea", "short")
    overlay.click("button.send")
    assert "at least 10 characters" in overlay.text(".error")
    assert upload_site.got == []
    overlay.type("textarea", "The supplier's accountant needs this invoice for the audit.")
    overlay.click("button.send")
    [got] = upload_site.wait_for(1)
    assert got.file() == upload.read_bytes() and events(tab) == ["input", "change"]
    tab.set_input_files("#file", str(upload))  # again: justified already, it goes without asking
    assert upload_site.wait_for(2)[1].file() == upload.read_bytes()
    assert not Overlay(tab).shown()
    # Detour has the reason: the same file from the same person to the same site is justified by it
    again = httpx.post(f"{detour_service.http}/v1/inspect", content=upload.read_bytes(),
                       headers={**detour_service.auth, "X-Detour-User": EXTENSION_USER,
                                "X-Detour-Filename": upload.name,
                                "X-Detour-Destination": upload_site.url("form")}, timeout=30).json()
    assert again["decision"] == "warn" and again["justified_by"] == decision_id


def test_with_detour_down_the_policys_on_error_decides(tab: Any, upload_site: UploadSite, relay: Relay,
                                                      browser: Any, extension: Extension) -> None:
    """The bundled policy: on_error blocks on unsanctioned sites and allows on sanctioned ones. The extension
    learnt each site's while Detour was up; with Detour down it follows it, never a silent allow."""
    opened(tab, upload_site.url("form"))  # 127.0.0.1 here: an external site, unsanctioned
    sanctioned = browser.contexts[0].new_page()
    try:
        opened(sanctioned, upload_site.url("form", SANCTIONED_HOST))
        assert learnt(browser, extension, "127.0.0.1") == "block"
        assert learnt(browser, extension, SANCTIONED_HOST) == "allow"
        relay.down()
        tab.set_input_files("#file", str(benign()))
        overlay = Overlay(tab).wait()
        assert overlay.attribute("data-failure") == "unreachable"
        assert "can't be reached" in overlay.text() and "127.0.0.1" in overlay.text()
        assert events(tab) == [] and upload_site.got == []
        shot(tab, "extension-detour-down-en.png")
        sanctioned.set_input_files("#file", str(benign()))
        [got] = upload_site.wait_for(1)
        assert got.file() == benign().read_bytes()
        assert not Overlay(sanctioned).shown()
    finally:
        relay.up()
        sanctioned.close()


def test_when_detour_is_too_slow_the_policys_on_error_decides(tab: Any, upload_site: UploadSite,
                                                              relay: Relay) -> None:
    opened(tab, upload_site.url("form"))
    relay.stall()
    try:
        tab.set_input_files("#file", str(benign()))
        overlay = Overlay(tab)
        overlay.wait(".toast")  # the person sees it is being checked
        overlay.wait(".dialog", EXTENSION_TIMEOUT + 20)
        assert overlay.attribute("data-failure") == "timeout"
        assert overlay.attribute("data-action") == "block"
        assert not overlay.shown(".toast")
        assert events(tab) == [] and upload_site.got == []
    finally:
        relay.stall(False)


def test_an_upload_a_proxy_stopped_shows_the_overlay_instead_of_a_stuck_page(tab: Any, upload_site: UploadSite,
                                                                             origin: Origin) -> None:
    """The page uploads an export it built itself (no file chosen, so nothing for the extension to hold)
    to the external site, through Squid and Detour's ICAP service: the proxy stops it, and the page shows
    the decision instead of a failed upload."""
    opened(tab, upload_site.url("app"), "nl")
    origin.clear()
    tab.evaluate("([url, name, text]) => window.uploadExport(url, name, text)",
                 [f"{origin.url}/api/upload", "export.csv", contacts().read_text()])
    overlay = Overlay(tab).wait()
    assert overlay.text("h2") == "Sorry, deze upload is tegengehouden"
    assert "proxy" in overlay.text()
    assert overlay.count("a.route.primary") == 1
    assert "/d/" in str(overlay.attribute("href", "a.decision-page"))
    assert not [r for r in origin.received if r.method == "POST"]
    shot(tab, "extension-proxy-stop-nl.png")


def test_the_options_page_shows_what_it_manages_locked(browser: Any, extension: Extension, relay: Relay) -> None:
    if not can_manage():
        pytest.skip("Chromium's enterprise policy folder (/etc/chromium/policies/managed) is writable by root "
                    "only: this run set the extension up on its options page instead")
    page = browser.contexts[0].new_page()
    try:
        page.goto(f"{extension.origin}/options.html")
        page.wait_for_function("document.getElementById('detourUrl').value !== ''")
        assert page.input_value("#detourUrl") == relay.url
        for field in ("#detourUrl", "#apiToken", "#user", "#group", "#sites", "#excludedSites"):
            assert page.is_disabled(field)  # under policy, a person can't change what IT set, nor add to it
        assert page.locator('.managed[data-for="detourUrl"]').is_visible()
    finally:
        page.close()

