"""What staff can do after "no": the page in their language, a justification for a warning, the
helpdesk webhook, the redacted copy. In-process app, a real SQLite store, a real HTTP receiver."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from detectors.errors import Unredactable
from gateway.http.app import create_app
from gateway.proxy.answer import blocked_response
from gateway.proxy.body import BodyReader, HttpRequestHead
from gateway.proxy.decide import decide_request
from gateway.records import Channel, Envelope
from gateway.render.i18n import LOCALE_DIR
from gateway.render.report import Report
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.staff.redaction import make_copy
from gateway.staff.webhook import HelpdeskWebhook
from gateway.store.models import TicketRow
from tests import files
from tests.conftest import CORPUS, ROOT, policies_with_warnings
from tests.factories import AppClient
from tests.files import invoice
from tests.services import Origin, start_origin

SECRET = "a webhook secret of some length"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Origin]:
    for origin in start_origin():
        origin.host = "127.0.0.1"
        yield origin


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, receiver: Origin) -> tuple[AppClient, Runtime]:
    tmp = tmp_path_factory.mktemp("staff")
    settings = Settings(policies_dir=policies_with_warnings(tmp), hash_key="k" * 32, data_dir=tmp / "data",
                        helpdesk_webhook_url=f"{receiver.url}/hooks/detour", helpdesk_webhook_secret=SECRET,
                        public_url="https://detour.corp.example")
    runtime = Runtime.build(settings)
    return AppClient.with_token(create_app(settings, runtime)), runtime


def inspect(client: AppClient, blob: bytes, name: str, language: str = "en", user: str = "anna",
            destination: str = "https://wetransfer.com/upload") -> dict:  # type: ignore[type-arg]
    response = client.post("/v1/inspect", files={"file": (name, blob)},
                           data={"destination": destination, "user": user}, headers={"Accept-Language": language})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def contacts(client: AppClient, language: str = "en") -> dict:  # type: ignore[type-arg]
    report = inspect(client, (CORPUS / "customers_q3.csv").read_bytes(), "customers_q3.csv", language)
    assert report["decision"] == "block"
    return report


# --- the page in the person's language ------------------------------------------------------------


def test_the_page_follows_accept_language_and_the_switcher(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    report = contacts(client, "sv")  # decided in Swedish
    page = f"/d/{report['decision_id']}"
    swedish = client.get(page).text
    assert '<html lang="sv">' in swedish and "Tyvärr, den här uppladdningen stoppades" in swedish
    assert report["reasons"][0]["message"] in swedish  # the policy's own words, as decided
    dutch = client.get(page, headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
    assert dutch.headers["content-language"] == "nl" and "Sorry, deze upload is tegengehouden" in dutch.text
    assert "Het bestand bevat contactgegevens van 60 personen" in dutch.text  # reasons and routes too
    english = client.get(f"{page}?lang=en", headers={"Accept-Language": "nl"}).text  # the switcher wins
    assert "Sorry, this upload was stopped" in english and "contact details of 60 people" in english
    for code, name in (("sv", "Svenska"), ("nl", "Nederlands")):
        assert f'<a href="{page}?lang={code}" lang="{code}" hreflang="{code}">{name}</a>' in english
    assert '<strong aria-current="page" lang="en">English</strong>' in english


def test_unsupported_languages_fall_back_to_the_decisions_language(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    report = contacts(client, "nl")
    page = client.get(f"/d/{report['decision_id']}", headers={"Accept-Language": "fr-FR, de;q=0.8"})
    assert page.headers["content-language"] == "nl"


def test_the_catalogues_translate_every_message() -> None:
    """Every message in the code and templates (gateway/render/locale/detour.pot, made by `make translations`)
    has a Swedish and a Dutch translation, none fuzzy, with the same placeholders."""
    from babel.messages.extract import extract_from_dir

    method_map = [("gateway/**.py", "python"), ("gateway/render/templates/**.html", "jinja2")]
    options = {"gateway/render/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_t": (2,)}  # as `make translations`
    in_code = {message for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options, keywords)}
    assert len(in_code) > 50
    with (LOCALE_DIR / "detour.pot").open("rb") as pot:
        assert in_code == {m.id for m in read_po(pot) if m.id}, "run `make translations`"
    for language in ("sv", "nl"):
        with (LOCALE_DIR / language / "LC_MESSAGES" / "detour.po").open("rb") as po:
            catalog = read_po(po, locale=language)
        translated = {m.id: m for m in catalog if m.id}
        assert set(translated) == in_code
        for message in translated.values():
            strings = message.string if isinstance(message.string, tuple) else (message.string,)  # plural forms
            assert all(strings) and not message.fuzzy, f"{language}: {message.id!r} is not translated"
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            for text in strings:
                assert set(re.findall(r"%\(\w+\)s", ids[-1])) == set(re.findall(r"%\(\w+\)s", text))
        assert not [problem for _, problems in catalog.check() for problem in problems]


def test_the_page_is_safe_by_its_headers(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    report = contacts(client)
    page = client.get(f"/d/{report['decision_id']}")
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([\w-]+)'", policy)
    assert nonce is not None and f'<script nonce="{nonce.group(1)}">' in page.text
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    # without JavaScript the reference is there to select; the copy button only appears with it
    assert f'<span class="reference" id="reference">{report["decision_id"]}</span>' in page.text
    assert re.search(r'<button type="button" id="copy"[^>]* hidden>', page.text)


# --- warn with justification ----------------------------------------------------------------------


def test_a_warning_can_be_passed_with_a_business_reason(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    first = inspect(client, invoice(), "invoice.txt")
    assert first["decision"] == "warn" and first["justified_by"] is None
    decision = first["decision_id"]
    page = client.get(f"/d/{decision}").text
    assert f'action="/d/{decision}/justify"' in page and "Check before this upload goes" in page
    too_short = client.submit(decision, "justify", {"justification": "pls"})
    assert too_short.status_code == 400 and "say in a sentence" in too_short.text
    answer = client.submit(decision, "justify", {"justification": "Supplier invoice; Finance asked me to "
                         "send it to their accountant.", "lang": "en"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/d/{decision}?lang=en#proceed"
    assert "Thank you, your reason is recorded" in client.get(f"/d/{decision}").text
    again = inspect(client, invoice(), "invoice.txt")  # the same file, the same site, the same person
    assert again["decision"] == "warn" and again["justified_by"] == decision
    assert "You gave a business reason for this file" in client.get(f"/d/{again['decision_id']}").text
    assert inspect(client, invoice(), "invoice.txt", user="bert")["justified_by"] is None  # someone else
    assert inspect(client, invoice(12345), "invoice.txt")["justified_by"] is None  # another file
    other_site = inspect(client, invoice(), "invoice.txt", destination="https://dropbox.com/upload")
    assert other_site["decision"] == "warn" and other_site["justified_by"] is None


def test_a_justification_expires(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    first = inspect(client, invoice(777), "march.txt", user="carl")
    client.submit(first['decision_id'], "justify", {"justification": "Payroll run for March, agreed."})
    from gateway.store.models import JustificationRow

    with runtime.store.session() as session, session.begin():
        row = session.query(JustificationRow).filter_by(decision_id=first["decision_id"]).one()
        row.expires = datetime.now(UTC) - timedelta(seconds=1)
    assert inspect(client, invoice(777), "march.txt", user="carl")["justified_by"] is None


def test_programs_justify_through_the_api_and_blocks_cannot_be_justified(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    warned = inspect(client, invoice(4242), "q.txt", user="dana")
    answer = client.post(f"/v1/decisions/{warned['decision_id']}/justification",
                         json={"justification": "Customer asked for our bank details."})
    assert answer.status_code == 200 and answer.json()["justified"] is True
    assert datetime.fromisoformat(answer.json()["expires"]) > datetime.now(UTC) + timedelta(minutes=29)
    assert inspect(client, invoice(4242), "q.txt", user="dana")["justified_by"] == warned["decision_id"]
    blocked = contacts(client)
    refused = client.post(f"/v1/decisions/{blocked['decision_id']}/justification",
                          json={"justification": "I really need to send this list."})
    assert refused.status_code == 400 and "Only a warning" in refused.json()["error"]["message"]
    assert client.post("/v1/decisions/DTR-0000-0000-0000-0000/justification",
                       json={"justification": "nothing to see here"}).status_code == 404


def test_proxies_stop_a_warning_until_it_is_justified(app: tuple[AppClient, Runtime]) -> None:
    _, runtime = app
    head = HttpRequestHead("POST", "https://wetransfer.com/upload", [("Content-Type", "text/plain")])
    blob = invoice(9090)

    def decided(warnings_stop: bool) -> Report | None:
        with BodyReader("text/plain", runtime.pipeline.limits.max_upload_bytes, "pay.txt") as reader:
            reader.feed(blob)
            sender = Envelope("", user="erik", channel=Channel.ICAP, client_ip="10.0.0.7")
            return asyncio.run(decide_request(runtime.pipeline, head, reader.finish(), sender,
                                              warnings_stop=warnings_stop))

    stopped = decided(warnings_stop=True)
    assert stopped is not None and stopped.decision.value == "warn"
    assert decided(warnings_stop=False) is None  # no pages to justify on: it goes, recorded
    runtime.recorder.flush()  # the decision is written off the answer's path
    runtime.store.justify(stopped.decision_id, "Paying the supplier today.", 30)
    assert decided(warnings_stop=True) is None


def test_the_proxied_warning_page_posts_the_reason_to_detour(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = runtime.pipeline.inspect(invoice(31337), Envelope("x.txt", "https://wetransfer.com/upload", "erik"),
                                      "sv")
    body, headers = blocked_response(report, "text/html", "https://detour.corp.example",
                                     runtime.form_tokens.issue(report.decision_id))
    html = body.decode()
    assert f'action="https://detour.corp.example/d/{report.decision_id}/justify"' in html
    assert "Kontrollera innan uppladdningen går iväg" in html
    assert dict(headers)["X-Detour-Action"] == "warn" and "<script" not in html
    assert "default-src 'none'" in dict(headers)["Content-Security-Policy"]
    # the page is shown in the destination's name: its form comes from there, with the decision's token
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', html)
    assert token is not None
    reason = {"justification": "The supplier needs the invoice today.", "form_token": token.group(1)}
    answer = client.post(f"/d/{report.decision_id}/justify", data=reason, headers={"Origin": "https://wetransfer.com"},
                         follow_redirects=False)
    assert answer.status_code == 303
    forged = client.post(f"/d/{report.decision_id}/justify", data=reason, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403


# --- helpdesk webhook ---------------------------------------------------------------------------


def _deliveries(receiver: Origin, reference: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(r.body) for r in receiver.received if reference.encode() in r.body]


def test_a_ticket_reaches_the_helpdesk_with_masked_details_only(app: tuple[AppClient, Runtime],
                                                                  receiver: Origin) -> None:
    client, _ = app
    receiver.status, receiver.content_type = 201, "application/json"
    receiver.answer = json.dumps({"result": {"number": "INC0042", "sys_id": "x"}}).encode()
    report = contacts(client)
    decision = report["decision_id"]
    answer = client.submit(decision, "ticket", {"note": "Deadline today, the agency waits."},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("#helpdesk")
    [request] = [r for r in receiver.received if decision.encode() in r.body]
    assert request.path == "/hooks/detour" and request.headers["X-Detour-Event"] == "ticket"
    signature = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Detour-Signature"] == f"sha256={signature}"
    message = json.loads(request.body)
    assert message["reference"] == decision and message["note"] == "Deadline today, the agency waits."
    assert message["page"] == f"https://detour.corp.example/d/{decision}"
    assert message["decision"]["rules"] == ["block-contact-lists-external"]
    assert message["decision"]["findings"][0]["examples"]  # masked examples
    raw = (CORPUS / "customers_q3.csv").read_text()
    emails = [cell for line in raw.splitlines()[1:] for cell in line.split(",") if "@" in cell]
    assert emails and not any(email in request.body.decode() for email in emails)
    assert 'Ticket number: <strong class="ticket">INC0042</strong>' in client.get(f"/d/{decision}").text


def test_review_requests_and_wrong_reports_go_to_the_helpdesk_too(app: tuple[AppClient, Runtime],
                                                                   receiver: Origin) -> None:
    client, _ = app
    receiver.status, receiver.answer = 200, b"{}"
    decision = contacts(client)["decision_id"]
    client.submit(decision, "review", {"tool": "WeTransfer Pro", "why": "videos for the agency",
                                               "needed_by": "Friday"})
    client.submit(decision, "wrong", {"believed": "test accounts, not customers"})
    events = {m["event"]: m for m in _deliveries(receiver, decision)}
    assert events["review_request"]["review"] == {"tool": "WeTransfer Pro", "why": "videos for the agency",
                                                  "needed_by": "Friday"}
    assert events["wrong_report"]["believed"] == "test accounts, not customers"


def test_a_helpdesk_that_is_down_gets_the_ticket_later(app: tuple[AppClient, Runtime], receiver: Origin) -> None:
    client, runtime = app
    receiver.status, receiver.answer = 503, b"maintenance"
    decision = contacts(client, "sv")["decision_id"]
    client.submit(decision, "ticket", {"note": ""})
    assert "Väntar på att nå IT-supporten" in client.get(f"/d/{decision}").text
    assert runtime.webhook is not None
    assert runtime.webhook.deliver_due() == 0  # not due yet: the next attempt is a minute away
    with runtime.store.session() as session, session.begin():
        row = session.query(TicketRow).filter_by(decision_id=decision).one()
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
        row.next_attempt = datetime.now(UTC) - timedelta(seconds=1)  # a minute later
    receiver.status, receiver.answer = 201, b'{"id": 981}'
    assert runtime.webhook.deliver_due() == 1
    assert "Skickat till IT-supporten." in client.get(f"/d/{decision}").text
    assert len(_deliveries(receiver, decision)) == 2


def test_without_a_webhook_there_is_no_ticket_form(runtime: Runtime) -> None:
    client = AppClient.with_token(create_app(runtime.settings, runtime))
    decision = contacts(client)["decision_id"]
    assert f'action="/d/{decision}/ticket"' not in client.get(f"/d/{decision}").text
    assert client.submit(decision, "ticket", {}).status_code == 404


# --- the redacted copy ----------------------------------------------------------------------------


def test_a_redacted_copy_of_the_same_file(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    decision = contacts(client)["decision_id"]
    page = client.get(f"/d/{decision}").text
    assert f'action="/d/{decision}/redact"' in page
    answer = client.submit(decision, "redact", files={"file": ("customers_q3.csv", blob)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''customers_q3-redacted.csv"
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert len(rows) == 61 and rows[1][1] == "[e-mail address]" and int(answer.headers["x-detour-masked"]) >= 180
    assert rows[1][0] == "[name]"  # the names that made them people are masked too; the company stays
    assert {row[3] for row in rows[1:]} != {"[name]"}
    # the copy itself may now go where the original could not
    assert inspect(client, answer.content, "customers_q3-redacted.csv")["decision"] == "allow"
    assert "redacted-copy" in runtime.find(decision).history.routes_taken


def test_a_copy_that_could_not_be_checked_is_not_handed_out(make_runtime: Callable[..., Runtime]) -> None:
    """No capacity left for the copy's own check (on_error would let it through to a sanctioned site):
    the person is asked to try again, never given an unchecked copy."""
    runtime = make_runtime(inspect_threads=1, inspect_queue=0)
    blob = (CORPUS / "customers_q3.csv").read_bytes()
    report = runtime.pipeline.inspect(blob, Envelope("customers_q3.csv", "wetransfer.com"))
    slow = files.png_with_text([f"line {i} of a scanned page" for i in range(40)])
    busy = threading.Thread(target=runtime.pipeline.inspect, args=(slow, Envelope("slow.png", "wetransfer.com")))
    busy.start()
    time.sleep(0.2)  # the one inspection thread is taken
    try:
        with pytest.raises(Unredactable, match="could not check the copy"):
            make_copy(runtime.pipeline, report, blob)
    finally:
        busy.join()
    assert make_copy(runtime.pipeline, report, blob).masked >= 120  # with capacity back, the copy is made


def test_the_redacted_copy_needs_the_same_file(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    decision = contacts(client, "nl")["decision_id"]
    other = (CORPUS / "customers_q3.csv").read_bytes() + b"Extra Person,extra@example.org,0612345678,X\n"
    answer = client.submit(decision, "redact", files={"file": ("customers_q3.csv", other)})
    assert answer.status_code == 422 and "Dit is niet het bestand dat is tegengehouden" in answer.text


@pytest.mark.parametrize("name, why", [("refunds.docx", "not a redactable format"),
                                       ("bot.env", "a credential in a text file is redactable")])
def test_the_copy_is_offered_only_where_it_can_be_made(app: tuple[AppClient, Runtime], name: str,
                                                       why: str) -> None:
    client, _ = app
    report = inspect(client, (CORPUS / name).read_bytes(), name)
    assert report["decision"] == "block"
    offered = f'action="/d/{report["decision_id"]}/redact"' in client.get(f"/d/{report['decision_id']}").text
    assert offered is (name == "bot.env"), why


def test_a_webhook_address_that_is_not_a_web_address_is_refused_at_start(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be an http"):
        Settings(data_dir=tmp_path, helpdesk_webhook_url="ftp://helpdesk.example/in")


def test_an_unreachable_helpdesk_leaves_the_ticket_waiting(runtime: Runtime) -> None:
    report = runtime.pipeline.inspect((CORPUS / "customers_q3.csv").read_bytes(), Envelope("c.csv", "wetransfer.com"),
                              "en")
    webhook = HelpdeskWebhook("http://127.0.0.1:9/nothing-listens-here", None, 2.0, runtime.store)
    assert runtime.recorder.flush(30)  # the decision is in the store (as the pages make sure before a ticket)
    ticket = webhook.submit(report.decision_id, "ticket", {"reference": report.decision_id})
    [stored] = runtime.find(report.decision_id).history.tickets
    assert (stored.id, stored.status) == (ticket, "pending")


def test_a_warning_nobody_can_be_named_for_is_not_justified(app: tuple[AppClient, Runtime]) -> None:
    """No user and no client address: a reason from nobody would let anybody send the file there."""
    client, runtime = app
    report = runtime.pipeline.inspect(invoice(5151), Envelope("x.txt", "https://wetransfer.com/upload"), "en")
    assert report.decision.value == "warn"
    answer = client.submit(report.decision_id, "justify", {"justification": "The supplier needs the invoice."})
    assert answer.status_code == 400 and "does not know who sent this upload" in answer.text
    again = runtime.pipeline.inspect(invoice(5151), Envelope("x.txt", "https://wetransfer.com/upload"), "en")
    assert again.justified_by is None


def test_a_justification_is_kept_as_a_keyed_hash_of_the_person(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = runtime.pipeline.inspect(invoice(6262), Envelope("x.txt", "https://wetransfer.com/upload",
                                                              "fia.lind@corp-example.com"))
    client.submit(report.decision_id, "justify", {"justification": "The supplier needs the invoice."})
    with runtime.store.session() as session:
        from gateway.store.models import JustificationRow

        [row] = session.query(JustificationRow).filter_by(decision_id=report.decision_id).all()
        assert "fia" not in row.who and "corp-example" not in row.who and len(row.who) == 24
    stored = runtime.find(report.decision_id)
    assert stored is not None and stored.report.user is not None and "fia.lind" not in stored.report.user
