"""The decision page as the person uses it: one recommended route, one review path, answers with their ticket
numbers, times that say their zone; "your recent stops" behind a signed, expiring link; the not-found page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.http.app import create_app
from gateway.records import Channel, Content, Envelope
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.staff.recent import LINK_HOURS, RecentLinks
from tests.conftest import CORPUS, policies_with_warnings
from tests.factories import AppClient

CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()
NOTES = b"Minutes of the Monday meeting: the spring campaign starts in May.\n"
LINK = re.compile(r'href="(/me\?t=[^"&]+)&amp;lang=(\w\w)"')


@pytest.fixture(scope="module")
def runtime(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("recent")
    built = Runtime.build(settings.model_copy(update={"data_dir": tmp / "data",
                                                      "policies_dir": policies_with_warnings(tmp)}))
    yield built
    built.close()


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> Any:
    return create_app(runtime.settings, runtime)


PERSON_ADDRESS = "127.0.0.1"  # where the person's uploads come from, and where the test client's pages are opened


def sent(app: Any, runtime: Runtime, blob: bytes, user: str | None, name: str = "customers.csv",
         language: str = "en", channel: Channel = Channel.ICAP, address: str = PERSON_ADDRESS) -> dict[str, Any]:
    """An upload through the proxy (ICAP: the user is the proxy's), or another channel."""
    if channel is Channel.ICAP:
        envelope = Envelope(name, "https://wetransfer.com/", user, None, Channel.ICAP, client_ip=address)
        report: dict[str, Any] = runtime.pipeline.inspect(Content(blob), envelope, language).model_dump(mode="json")
    else:
        headers = {"X-Detour-Filename": name, "X-Detour-Destination": "https://wetransfer.com/",
                   "Accept-Language": language, "X-Detour-Channel": channel.value}
        if user:
            headers["X-Detour-User"] = user
        report = AppClient.with_token(app).post("/v1/inspect", content=blob, headers=headers).json()
    assert runtime.recorder.flush(30)
    return report


def recent_link(app: Any, decision_id: str) -> str | None:
    found = LINK.search(AppClient(app).get(f"/d/{decision_id}").text)
    return found.group(1) if found else None


def test_each_person_sees_only_their_own_recent_stops(app: Any, runtime: Runtime) -> None:
    anna = [sent(app, runtime, CONTACTS, "anna.berg", f"list-{i}.csv") for i in range(2)]
    anna.append(sent(app, runtime, NOTES, "anna.berg", "notes.txt"))
    bert = sent(app, runtime, CONTACTS, "bert.jansen", "leads.csv")
    AppClient(app).get(f"/d/{anna[0]['decision_id']}/go/{anna[0]['alternatives'][0]['id']}", follow_redirects=False)

    link = recent_link(app, anna[1]["decision_id"])
    assert link is not None
    page = AppClient(app).get(f"{link}&lang=en")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for report in anna:
        assert f'id="{report["decision_id"]}"' in page.text
    assert bert["decision_id"] not in page.text and "leads.csv" not in page.text
    assert "you took a route" in page.text and "anna.berg" not in page.text  # steps, never the name
    listed = re.findall(r'<li id="(DTR-[^"]+)"', page.text)
    assert listed[0] == anna[2]["decision_id"]  # newest first

    bert_link = recent_link(app, bert["decision_id"])
    assert bert_link is not None and bert_link != link
    bert_page = AppClient(app).get(bert_link).text
    assert bert["decision_id"] in bert_page and not any(r["decision_id"] in bert_page for r in anna)


def test_a_tampered_or_expired_link_opens_nothing(app: Any, runtime: Runtime) -> None:
    report = sent(app, runtime, CONTACTS, "carl.svensson")
    other = sent(app, runtime, CONTACTS, "dora.de.vries")
    link = recent_link(app, report["decision_id"])
    assert link is not None
    token = link.split("t=", 1)[1]
    who, expires, signature = token.split(".")
    other_who = recent_link(app, other["decision_id"]).split("t=", 1)[1].split(".")[0]  # type: ignore[union-attr]
    for forged in (f"{other_who}.{expires}.{signature}",  # someone else's identity, my signature
                   f"{who}.{int(expires) + 86400}.{signature}",  # a longer life
                   f"{who}.{expires}.{'0' * len(signature)}", "", "x" * 300, f"{who}.{expires}"):
        answer = AppClient(app).get("/me", params={"t": forged, "lang": "sv"})
        assert answer.status_code == 403 and "Länken är inte giltig" in answer.text
        assert report["decision_id"] not in answer.text and other["decision_id"] not in answer.text
    links = RecentLinks(runtime.form_tokens.derived("recent stops"))
    old = links.issue(who, datetime.now(UTC) - timedelta(hours=LINK_HOURS + 1))
    expired = AppClient(app).get("/me", params={"t": old, "lang": "nl"})
    assert expired.status_code == 410 and "Deze link is verlopen" in expired.text
    assert report["decision_id"] not in expired.text


def test_a_decision_known_only_by_its_address_has_no_such_link(app: Any, runtime: Runtime) -> None:
    """An address may be many people's (an office behind one NAT): their decisions are not listed together."""
    report = sent(app, runtime, CONTACTS, None)
    assert recent_link(app, report["decision_id"]) is None


@pytest.mark.parametrize("channel", [Channel.EXTENSION, Channel.API])
def test_a_user_named_by_a_token_many_hold_gets_no_such_link(app: Any, runtime: Runtime, channel: Channel) -> None:
    """The extension's token (in every browser's policy) may name any user: naming the CEO must not open the
    CEO's history. Only a proxy's users (ICAP, the proxy add-on) are believed for it."""
    sent(app, runtime, CONTACTS, "ceo")  # the real one, through the proxy
    claimed = sent(app, runtime, CONTACTS, "ceo", channel=channel)
    assert recent_link(app, claimed["decision_id"]) is None


def test_the_link_is_only_on_pages_opened_from_the_persons_own_address(app: Any, runtime: Runtime) -> None:
    """Whoever else holds the reference (the helpdesk, a chat, the destination site) sees the decision, not the
    person's history."""
    report = sent(app, runtime, CONTACTS, "ida.nord", address="10.1.2.3")
    assert recent_link(app, report["decision_id"]) is None  # the test client is 127.0.0.1


def test_one_recommended_route_with_a_verb_and_the_copy_next_to_it(app: Any, runtime: Runtime) -> None:
    report = sent(app, runtime, CONTACTS, "erik.holm", language="nl")
    html = AppClient(app).get(f"/d/{report['decision_id']}").text
    recommended = html.index('class="route recommended"')
    assert html.count('class="route recommended"') == 1 and "Aanbevolen" in html
    assert ">Deel het via de partnersite in SharePoint</a>" in html
    copy = html.index('id="redact"')
    others = html.index('id="other-ways"')
    assert recommended < copy < others  # the copy without the values right after the route to take
    assert "[e-mailadres]" in html and "[email]" not in html
    assert "/go/request-review" not in html and html.count('action="/d/') >= 2  # the review form is Detour's own


def test_after_a_review_request_the_page_shows_its_status_not_another_form(app: Any, runtime: Runtime) -> None:
    report = sent(app, runtime, CONTACTS, "fia.lund")
    decision_id = report["decision_id"]
    page = AppClient(app).get(f"/d/{decision_id}").text
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    asked = AppClient(app).post(f"/d/{decision_id}/review", data={
        "tool": "wetransfer.com", "why": "The agency only takes WeTransfer links.", "form_token": token,
        "lang": "en"}, follow_redirects=False)
    assert asked.status_code == 303
    after = AppClient(app).get(f"/d/{decision_id}").text
    assert "You asked IT to review" in after and "waiting for IT" in after
    assert f'action="/d/{decision_id}/review"' not in after  # no second, empty form inviting a duplicate


def test_times_name_their_zone_and_follow_the_browser(app: Any, runtime: Runtime) -> None:
    report = sent(app, runtime, (CORPUS / "refunds.docx").read_bytes(), "gus.berg", "invoice.txt")
    assert report["decision"] in ("warn", "block")
    link = recent_link(app, report["decision_id"])
    page = AppClient(app).get(link or "").text
    stamp = re.search(r'<time datetime="([^"]+)" data-local="time">(\d\d:\d\d) UTC</time>', page)
    assert stamp is not None and datetime.fromisoformat(stamp.group(1)).utcoffset() == timedelta(0)
    assert "Intl.DateTimeFormat" in page and "timeZoneName" in page  # shown in the person's zone, named


@pytest.mark.parametrize("language, title", [("en", "No decision with this reference"),
                                             ("sv", "Inget beslut med den här referensen"),
                                             ("nl", "Geen beslissing met deze referentie")])
def test_the_not_found_page_follows_lang_and_names_the_helpdesk(app: Any, language: str, title: str) -> None:
    answer = AppClient(app).get("/d/DTR-AAAA-BBBB-CCCC-DDDD", params={"lang": language},
                                headers={"Accept-Language": "en" if language != "en" else "sv"})
    assert answer.status_code == 404 and title in answer.text
    assert "helpdesk@corp-example.com" in answer.text and "+46 8 123 456 00" in answer.text
    assert f'<html lang="{language}">' in answer.text


def test_the_redacted_copy_speaks_the_persons_language_and_hides_the_names(app: Any, runtime: Runtime) -> None:
    report = sent(app, runtime, CONTACTS, "hanna.ek", language="sv")
    decision_id = report["decision_id"]
    page = AppClient(app).get(f"/d/{decision_id}").text
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    copy = AppClient(app).post(f"/d/{decision_id}/redact", data={"form_token": token, "lang": "sv"},
                               files={"file": ("customers_q3.csv", CONTACTS)})
    assert copy.status_code == 200, copy.text
    first_row = copy.content.decode().splitlines()[1].split(",")
    assert first_row[:3] == ["[namn]", "[e-postadress]", "[telefonnummer]"]
    assert "[email]" not in copy.text and "[name]" not in copy.text
