"""The decision store and the decision page: every decision recorded (masked), its page, tracked route links."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.http.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import DecisionStore
from gateway.store.store import sqlite_url
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


def test_every_decision_is_stored_with_who_what_where_and_why(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = blocked(client)
    stored = runtime.store.get(report["decision_id"])
    assert stored is not None and stored.report.decision.value == "block"
    with runtime.store.session() as session:
        from gateway.store.models import DecisionRow

        row = session.get(DecisionRow, report["decision_id"])
        assert row is not None
        assert (row.file_name, row.destination_host, row.decision) == ("customers_q3.csv", "wetransfer.com", "block")
        assert row.rules == ["block-contact-lists-external"] and row.alternatives == [a["id"] for a in
                                                                                       report["alternatives"]]
        assert row.sha256 == report["sha256"] and row.size > 0 and row.file_type == "text/csv"


def test_the_store_never_holds_a_raw_value(app: tuple[AppClient, Runtime], settings: Settings) -> None:
    client, _ = app
    blocked(client, "customers_q3.csv")
    blocked(client, "refunds.docx")
    database = settings.data_dir / "detour.db"
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    text = (CORPUS / "customers_q3.csv").read_text()
    emails = [cell for line in text.splitlines()[1:] for cell in line.split(",") if "@" in cell]
    assert emails and not any(email in dump for email in emails)
    cards = _cards()
    assert cards and not any(card in dump for card in cards)


def _cards() -> list[str]:
    import re

    import docx

    document = docx.Document(str(CORPUS / "refunds.docx"))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return [c for c in cells if re.fullmatch(r"\d{15,16}", c)]


def test_the_decision_page_shows_the_routes_in_the_decisions_language(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    report = blocked(client, language="sv")
    page = client.get(f"/d/{report['decision_id']}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Tyvärr, den här uppladdningen stoppades" in html and report["decision_id"] in html
    for offer in report["alternatives"]:
        assert f'href="/d/{report["decision_id"]}/go/{offer["id"]}"' in html


def test_a_route_link_is_recorded_and_redirects_to_the_catalogue_url(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = blocked(client)
    offer = report["alternatives"][0]
    response = client.get(f"/d/{report['decision_id']}/go/{offer['id']}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == offer["url"]
    stored = runtime.store.get(report["decision_id"])
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


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.store.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_are_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = sqlite_url(tmp_path)
    DecisionStore(url).close()
    store = DecisionStore(url)  # a second start upgrades nothing and loses nothing
    with sqlite3.connect(tmp_path / "detour.db") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
        assert connection.execute("select version_num from alembic_version").fetchone() == (_head(),)
        assert connection.execute("pragma journal_mode").fetchone() == ("wal",)
    assert {"decisions", "routes_taken", "review_requests", "wrong_reports", "justifications", "tickets"} <= tables
    store.close()


def test_staff_can_ask_it_to_review_the_tool_and_see_the_status(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    report = blocked(client, language="en")
    decision = report["decision_id"]
    page = client.get(f"/d/{decision}").text
    assert f'action="/d/{decision}/review"' in page and 'value="wetransfer.com"' in page
    answer = client.post(f"/d/{decision}/review", data={"tool": "WeTransfer Pro", "why": "send the campaign <b>"
                         "videos</b> to the agency", "needed_by": "Friday"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/d/{decision}#review"
    [review] = runtime.store.get(decision).history.reviews
    assert (review.tool, review.needed_by, review.status) == ("WeTransfer Pro", "Friday", "open")
    page = client.get(f"/d/{decision}").text
    assert "You asked IT to review: <strong>WeTransfer Pro</strong>" in page and "waiting for IT" in page


def test_a_review_request_needs_a_tool_and_a_reason(app: tuple[AppClient, Runtime]) -> None:
    client, _ = app
    decision = blocked(client)["decision_id"]
    answer = client.post(f"/d/{decision}/review", data={"tool": " ", "why": ""})
    # a page for the person, in the decision's language (Dutch here), with the way back
    assert answer.status_code == 400 and "Zeg welke tool of site je nodig hebt" in answer.text
    assert f'href="/d/{decision}?lang=nl"' in answer.text
    assert client.post("/d/DTR-AAAA-BBBB-CCCC-DDDD/review", data={"tool": "x", "why": "y"}).status_code == 404


def test_staff_can_say_a_decision_looks_wrong(app: tuple[AppClient, Runtime]) -> None:
    client, runtime = app
    decision = blocked(client, language="nl")["decision_id"]
    answer = client.post(f"/d/{decision}/wrong", data={"believed": "a list of our own test accounts"},
                         follow_redirects=False)
    assert answer.status_code == 303
    stored = runtime.store.get(decision)
    assert stored is not None and stored.history.reported_wrong
    assert stored.report.findings  # IT sees the masked findings with the report
    assert "Dank je: IT bekijkt deze beslissing" in client.get(f"/d/{decision}").text


def test_proxy_block_pages_carry_no_forms(app: tuple[AppClient, Runtime]) -> None:
    from gateway.render.pages import render_block_page

    client, runtime = app
    decision = blocked(client)["decision_id"]
    stored = runtime.store.get(decision)
    assert stored is not None and "<form" not in render_block_page(stored.report)
