"""The page of a decision: served by Detour at ``/d/{id}``, and by a proxy to a stopped browser.

Server-rendered with Jinja2 and autoescaping: file names, destinations and
every text come from the upload or the policy and are shown escaped. Detour's
own texts are gettext messages (``render.i18n``), one Jinja environment per
language. The page works without JavaScript; on Detour's own page one small
script (allowed by a per-response CSP nonce) adds a copy-the-reference button.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from alternatives.catalogue import LANGUAGES, Language
from gateway.records import History
from gateway.render.i18n import LANGUAGE_NAMES, N_, translations, translator
from gateway.render.report import Report, display_name

DECISION_HEADER = "X-Detour-Decision"
TITLES = {"block": N_("Sorry, this upload was stopped"), "warn": N_("Check before this upload goes"),
          "allow": N_("This upload was allowed")}
STATUSES = {"open": N_("waiting for IT"), "approved": N_("approved"), "declined": N_("declined")}
# The example under the business-reason box, for the data class the warning is about.
EXAMPLE_REASONS = {
    "bank_account": N_("For example: the payroll provider needs the March salary file; agreed with Finance."),
    "contact_data": N_("For example: the agency sends the spring campaign invitations for us; agreed with "
                       "Marketing."),
    "national_id": N_("For example: the pension fund needs the new employees' details; agreed with HR."),
    "confidential_label": N_("For example: the auditors asked for this report; agreed with my manager."),
}
EXAMPLE_REASON = N_("For example: the customer asked for this file for the project; agreed with my manager.")


@dataclass(frozen=True)
class PageOptions:
    """What the page offers besides the decision itself."""

    link_base: str | None = None  # Detour's address: route links go through its tracker; None: straight
    action_base: str | None = None  # where the justification form posts ("" on Detour's own page); None: no form
    page_link: str | None = None  # a proxied page: where the decision's own page is
    copy_offered: bool = False  # a proxied page: the decision's own page offers a redacted copy
    nonce: str | None = None  # Detour's own page: the CSP nonce of its script
    form_token: str = ""  # the decision's form token (render.forms): every form posts it back
    recording: bool = False  # still on its way to the store: said so, and no forms yet
    switcher: bool = False
    redaction: bool = False
    helpdesk_webhook: bool = False
    recent_link: str | None = None  # the person's recent stops (a signed, expiring link), when a user is known


def local_time(when: datetime) -> Markup:
    """A time for people: in UTC, named so, and in their own time zone where the page's script runs."""
    utc = when.astimezone(UTC)
    return Markup('<time datetime="{}" data-local="time">{} UTC</time>').format(
        utc.isoformat(timespec="seconds"), utc.strftime("%H:%M"))


def local_date(when: datetime) -> Markup:
    utc = when.astimezone(UTC)
    return Markup('<time datetime="{}" data-local="date">{}</time>').format(utc.isoformat(timespec="seconds"),
                                                                             utc.date().isoformat())


@cache
def _environment(language: Language) -> Environment:
    environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                              autoescape=select_autoescape(default=True), auto_reload=False,
                              extensions=["jinja2.ext.i18n"])
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(local_time=local_time, local_date=local_date)
    return environment


def render_block_page(report: Report, options: PageOptions | None = None, history: History | None = None) -> str:
    """The page for a decision, in the report's language; with its ``history`` on Detour's own page."""
    options = options or PageOptions()
    _ = translator(report.language)
    examples = [example for finding in report.findings for example in finding.examples][:6]
    links = {offer.id: f"{options.link_base}/d/{report.decision_id}/go/{offer.id}"
             if options.link_base is not None else offer.url for offer in report.alternatives}
    # One way to ask for a review: Detour's own form where the page has it, else the decision's page, else the
    # catalogue's address (a proxied page without Detour's address).
    own_form = history is not None and options.action_base is not None
    routes = [offer for offer in report.alternatives if not (own_form and offer.kind == "request_review")]
    for offer in routes:
        if offer.kind == "request_review" and options.page_link is not None:
            links[offer.id] = f"{options.page_link}#review"
    warned = [c for reason in report.reasons for c in reason.data_classes]
    example = next((EXAMPLE_REASONS[c] for c in warned if c in EXAMPLE_REASONS), EXAMPLE_REASON)
    return _environment(report.language).get_template("block.html").render(
        report=report, title=_(TITLES[report.decision.value]), file=display_name(report.file), examples=examples,
        links=links, history=history, recommended=routes[0] if routes else None, others=routes[1:],
        example_reason=_(example), copy_offered=options.copy_offered, recent_link=options.recent_link,
        statuses={k: _(v) for k, v in STATUSES.items()},
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES], page_url=f"/d/{report.decision_id}",
        action_base=options.action_base, page_link=options.page_link, nonce=options.nonce,
        form_token=options.form_token, recording=options.recording,
        switcher=options.switcher, redaction=options.redaction, helpdesk_webhook=options.helpdesk_webhook)


DECISIONS = {"block": N_("stopped"), "warn": N_("warning shown"), "allow": N_("allowed to go")}
WRONG = {"open": N_("reported as wrong: IT will look at it"), "confirmed": N_("reported as wrong: IT agreed"),
         "rejected": N_("reported as wrong: the decision stands")}


class Stop(Protocol):
    """One of a person's recent decisions (``store.RecentStop``), as the page shows it."""

    @property
    def id(self) -> str: ...
    @property
    def created(self) -> datetime: ...
    @property
    def file_name(self) -> str: ...
    @property
    def destination_host(self) -> str: ...
    @property
    def decision(self) -> str: ...
    @property
    def route_taken(self) -> bool: ...
    @property
    def reviews(self) -> tuple[str, ...]: ...
    @property
    def reason_given(self) -> bool: ...
    @property
    def let_go(self) -> bool: ...
    @property
    def wrong(self) -> str | None: ...


def render_recent(language: Language, stops: Sequence[Stop] | None, days: int, expired: bool = False,
                  nonce: str | None = None, token: str = "", unavailable: bool = False, limit: int = 0) -> str:
    """A person's recent stops of the last ``days`` (``stops``), or why the link does not open (None)."""
    _ = translator(language)
    rows = []
    for stop in stops or ():
        steps = []
        if stop.route_taken:
            steps.append(_("you took a route"))
        steps.extend(_("you asked IT to review: %(status)s") % {"status": _(STATUSES[r])} for r in stop.reviews)
        if stop.reason_given:
            steps.append(_("you gave a business reason"))
        if stop.let_go:
            steps.append(_("let through"))
        if stop.wrong:
            steps.append(_(WRONG[stop.wrong]))
        rows.append({"stop": stop, "file": display_name(stop.file_name), "decision": _(DECISIONS[stop.decision]),
                     "steps": steps})
    return _environment(language).get_template("recent.html").render(
        language=language, rows=rows, listed=stops is not None, expired=expired, nonce=nonce, days=days,
        unavailable=unavailable, cut=bool(limit) and len(rows) >= limit,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES], token=token)


def render_message(report: Report, message: str) -> str:
    """A short page about a form that could not be taken, with the way back to the decision."""
    return _environment(report.language).get_template("message.html").render(report=report, message=message)


def render_not_found(language: Language, contact: dict[str, str] | None = None) -> str:
    """The page for a decision id that does not exist (mistyped, or from another installation), with the
    helpdesk's name and ways to reach it."""
    return _environment(language).get_template("not_found.html").render(
        language=language, contact=contact or {}, languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES])


def wants_json(accept: str) -> bool:
    """API clients (Accept: application/json, without text/html) get the decision JSON."""
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept
