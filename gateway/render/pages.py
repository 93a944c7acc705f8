"""The page of a decision: served by Detour at ``/d/{id}``, and by a proxy to a stopped browser.

Server-rendered with Jinja2 and autoescaping: file names, destinations and
every text come from the upload or the policy and are shown escaped. Detour's
own texts are gettext messages (``render.i18n``), one Jinja environment per
language. The page works without JavaScript; on Detour's own page one small
script (allowed by a per-response CSP nonce) adds a copy-the-reference button.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from alternatives.catalogue import LANGUAGES, Language
from gateway.records import History
from gateway.render.i18n import LANGUAGE_NAMES, N_, translations, translator
from gateway.render.report import Report, display_name

DECISION_HEADER = "X-Detour-Decision"
TITLES = {"block": N_("Sorry, this upload was stopped"), "warn": N_("Check before this upload goes"),
          "allow": N_("This upload was allowed")}
STATUSES = {"open": N_("waiting for IT"), "approved": N_("approved"), "declined": N_("declined")}


@dataclass(frozen=True)
class PageOptions:
    """What the page offers besides the decision itself."""

    link_base: str | None = None  # Detour's address: route links go through its tracker; None: straight
    action_base: str | None = None  # where the justification form posts ("" on Detour's own page); None: no form
    page_link: str | None = None  # a proxied page: where the decision's own page is
    nonce: str | None = None  # Detour's own page: the CSP nonce of its script
    form_token: str = ""  # the decision's form token (render.forms): every form posts it back
    recording: bool = False  # still on its way to the store: said so, and no forms yet
    switcher: bool = False
    redaction: bool = False
    helpdesk_webhook: bool = False


@cache
def _environment(language: Language) -> Environment:
    environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                              autoescape=select_autoescape(default=True), auto_reload=False,
                              extensions=["jinja2.ext.i18n"])
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return environment


def render_block_page(report: Report, options: PageOptions | None = None, history: History | None = None) -> str:
    """The page for a decision, in the report's language; with its ``history`` on Detour's own page."""
    options = options or PageOptions()
    _ = translator(report.language)
    examples = [example for finding in report.findings for example in finding.examples][:6]
    links = {offer.id: f"{options.link_base}/d/{report.decision_id}/go/{offer.id}"
             if options.link_base is not None else offer.url for offer in report.alternatives}
    return _environment(report.language).get_template("block.html").render(
        report=report, title=_(TITLES[report.decision.value]), file=display_name(report.file), examples=examples,
        links=links, history=history, statuses={k: _(v) for k, v in STATUSES.items()},
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES], page_url=f"/d/{report.decision_id}",
        action_base=options.action_base, page_link=options.page_link, nonce=options.nonce,
        form_token=options.form_token, recording=options.recording,
        switcher=options.switcher, redaction=options.redaction, helpdesk_webhook=options.helpdesk_webhook)


def render_message(report: Report, message: str) -> str:
    """A short page about a form that could not be taken, with the way back to the decision."""
    return _environment(report.language).get_template("message.html").render(report=report, message=message)


def render_not_found(language: Language) -> str:
    """The page for a decision id that does not exist (mistyped, or from another installation)."""
    return _environment(language).get_template("not_found.html").render(language=language)


def wants_json(accept: str) -> bool:
    """API clients (Accept: application/json, without text/html) get the decision JSON."""
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept
