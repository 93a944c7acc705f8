"""The answer a proxy gives a blocked browser: an HTML page (or the decision JSON for API clients).

Server-rendered with Jinja2 and autoescaping: file names, destinations and
every text come from the upload or the policy and are shown escaped. The page
is readable without JavaScript and on a phone; the staff-pages work polishes it.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from alternatives.catalogue import Language
from gateway.report import Report, display_name

DECISION_HEADER = "X-Detour-Decision"

_TEXTS: dict[Language, dict[str, str]] = {
    "en": {"title": "Sorry, this upload was stopped", "file": "File", "why": "Why", "examples": "Found, masked",
           "partial": "Detour stopped checking once this was clear; the file may contain more.",
           "instead": "What you can do instead, right now", "helpdesk": "The helpdesk", "reference": "Reference",
           "mail": "E-mail the helpdesk", "title_allow": "This upload was allowed",
           "title_warn": "This upload may go, with care"},
    "sv": {"title": "Tyvärr, den här uppladdningen stoppades", "file": "Fil", "why": "Varför",
           "examples": "Hittat, maskerat",
           "partial": "Detour slutade kontrollera när detta stod klart; filen kan innehålla mer.",
           "instead": "Det här kan du göra i stället, redan nu", "helpdesk": "IT-supporten", "reference": "Referens",
           "mail": "Mejla IT-supporten", "title_allow": "Uppladdningen tilläts",
           "title_warn": "Uppladdningen får gå, men var försiktig"},
    "nl": {"title": "Sorry, deze upload is tegengehouden", "file": "Bestand", "why": "Waarom",
           "examples": "Gevonden, gemaskeerd",
           "partial": "Detour stopte met controleren toen dit duidelijk was; het bestand kan meer bevatten.",
           "instead": "Dit kun je nu in plaats daarvan doen", "helpdesk": "De servicedesk", "reference": "Referentie",
           "mail": "Mail de servicedesk", "title_allow": "Deze upload is toegestaan",
           "title_warn": "Deze upload mag, maar wees voorzichtig"},
}

_environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                           autoescape=select_autoescape(default=True), auto_reload=False)


def render_block_page(report: Report, link_base: str | None = None) -> str:
    """The page for a decision. With ``link_base`` (Detour's own address) the routes go through
    ``/d/{id}/go/{route}``, which records that the route was taken; without, straight to the route."""
    examples = [example for finding in report.findings for example in finding.examples][:6]
    texts = _TEXTS[report.language]
    title = texts["title"] if report.decision.value == "block" else texts[f"title_{report.decision.value}"]
    links = {offer.id: f"{link_base}/d/{report.decision_id}/go/{offer.id}" if link_base is not None else offer.url
             for offer in report.alternatives}
    return _environment.get_template("block.html").render(
        report=report, t=texts, title=title, file=display_name(report.file), examples=examples, links=links)


def wants_json(accept: str) -> bool:
    """API clients (Accept: application/json, without text/html) get the decision JSON."""
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept
