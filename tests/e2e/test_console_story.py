"""The story IT's console exists for, in a real browser (Debian's Chromium, headless) against the run's real
`detour serve` and a real OpenID Connect provider: a marketing employee's contact list to an unknown site is
blocked → they ask IT to review → a reviewer signs in → approves for the group marketing for 7 days → the
same upload by a marketing user passes (named as allowed by that exception) while another group's is still
blocked → the employee's page shows the approval → once the exception's time is up, the upload is blocked
again."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from gateway.store.exemptions import REFRESH_SECONDS
from tests.conftest import ARTIFACTS, CORPUS
from tests.services import DetourService

pytestmark = pytest.mark.slow

SITE = "https://files.quickshare-unknown.example/upload"
CONTACTS = (CORPUS / "customers_q3.csv").read_bytes()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(locale="en-GB")
    made.route(re.compile(r"^https://cdn\."), lambda route: route.abort())  # the provider's CSS; offline here
    try:
        yield made
    finally:
        made.close()


def upload(detour: DetourService, user: str, group: str) -> dict[str, Any]:
    answer = httpx.post(f"{detour.http}/v1/inspect", files={"file": ("leads.csv", CONTACTS)},
                        data={"destination": SITE, "user": user, "group": group}, headers=detour.auth, timeout=60)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_blocked_reviewed_approved_for_a_group_and_expired(context: Any, detour_service: DetourService,
                                                         oidc_issuer: str) -> None:
    stopped = upload(detour_service, "mia", "marketing")
    assert stopped["decision"] == "block"
    decision_id = stopped["decision_id"]

    employee = context.new_page()  # the employee asks IT to review, on the decision page
    employee.goto(f"{detour_service.http}/d/{decision_id}")
    employee.click("#review summary")
    employee.fill("#tool", "QuickShare")
    employee.fill("#why-needed", "The consultant needs the campaign list this week")
    with employee.expect_navigation():
        employee.click("#review button[type=submit]")
    assert "status: waiting for IT" in employee.locator("#review").inner_text()

    who = "rita@corp.example"  # the reviewer, in the provider's it-security group
    assert httpx.put(f"{oidc_issuer}/users/{quote(who)}", json={"email": who, "groups": ["it-security"]}
                     ).status_code == 204
    reviewer = context.new_page()
    reviewer.goto(f"{detour_service.http}/admin/reviews")  # no session: to the provider, and back here
    reviewer.get_by_placeholder("sub").fill(who)
    with reviewer.expect_navigation(url=re.compile(r"/admin/reviews$")):
        reviewer.get_by_role("button", name="Authorize").click()
    assert "rita@corp.example · reviewer" in reviewer.locator("header").inner_text()
    request = reviewer.locator("section", has_text=decision_id)
    request.locator("input[name=who][value=group]").check()
    request.locator("input[name=group]").fill("marketing")
    request.locator("input[name=days]").fill("7")
    request.locator("input[name=note]").fill("Until the partner SharePoint site is ready.")
    with reviewer.expect_navigation():
        request.get_by_role("button", name="Approve").click()
    done = reviewer.locator("[role=status]").inner_text()
    assert done.startswith("Approved: exception")
    exception_id = int(re.search(r"exception (\d+)", done).group(1))  # type: ignore[union-attr]
    shot(reviewer, "console-review-approved.png")

    time.sleep(REFRESH_SECONDS + 0.5)  # at once in the worker that granted it, within this in every other
    allowed = upload(detour_service, "max", "marketing")
    assert allowed["decision"] == "allow" and allowed["reasons"][0]["rule"] == f"exception-{exception_id}"
    assert upload(detour_service, "sam", "sales")["decision"] == "block"

    employee.reload()
    review = employee.locator("#review").inner_text()
    until = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    assert "status: approved" in review and "until " in review
    assert str(employee.locator("#review time").get_attribute("datetime")).startswith(until)  # shown in local time
    assert "Until the partner SharePoint site is ready." in review
    shot(employee, "decision-page-approved.png")

    # the clock reaches the exception's end: it stops applying by itself on the running service
    database = Path(detour_service.environment["DETOUR_DATA_DIR"]) / "detour.db"
    ends = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE exemptions SET expires = ? WHERE id = ?", (ends, exception_id))
    time.sleep(REFRESH_SECONDS + 1.5)  # the service re-reads the exceptions in force
    assert upload(detour_service, "max", "marketing")["decision"] == "block"


def test_a_policy_admin_tries_a_draft_on_recorded_traffic_in_the_browser(context: Any, detour_service: DetourService,
                                                                        oidc_issuer: str, tmp_path: Path) -> None:
    """Before a rollout: the draft's files are chosen in the console's form, every recorded decision is decided
    again under it, and the decisions it would change are one click away."""
    stopped = upload(detour_service, "lina", "marketing")
    assert stopped["decision"] == "block"
    live = Path(detour_service.environment["DETOUR_POLICIES_DIR"])
    draft = tmp_path / "draft"
    draft.mkdir()
    for path in sorted(live.glob("*.yaml")):
        (draft / path.name).write_text(path.read_text().replace(
            "data_classes: [contact_data]}\n    action: block", "data_classes: [contact_data]}\n    action: warn"))
    assert (draft / "default.yaml").read_text() != (live / "default.yaml").read_text()

    who = "pia@corp.example"  # a policy admin, in the provider's it-admins group
    assert httpx.put(f"{oidc_issuer}/users/{quote(who)}", json={"email": who, "groups": ["it-admins"]}
                     ).status_code == 204
    admin = context.new_page()
    admin.goto(f"{detour_service.http}/admin/policy")
    admin.get_by_placeholder("sub").fill(who)
    with admin.expect_navigation(url=re.compile(r"/admin/policy$")):
        admin.get_by_role("button", name="Authorize").click()
    form = admin.locator("form[action='/admin/policy/simulate']")
    form.locator("input[type=file]").set_input_files([str(p) for p in sorted(draft.glob("*.yaml"))])
    form.locator("input[name=since]").fill("1d")
    with admin.expect_navigation():
        form.get_by_role("button", name="Simulate").click()
    text = admin.locator("main").inner_text()
    assert "would change" in text and "block → warn" in text, text[:2000]
    shot(admin, "console-simulation.png")
    with admin.expect_navigation():
        admin.get_by_role("link", name=stopped["decision_id"]).click()  # the newest contact list stopped
    assert stopped["decision_id"] in admin.locator("main").inner_text()
