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
from gateway.store import StoredDecision

DECISION_HEADER = "X-Detour-Decision"

_TEXTS: dict[Language, dict[str, str]] = {
    "en": {"title": "Sorry, this upload was stopped", "file": "File", "why": "Why", "examples": "Found, masked",
           "partial": "Detour stopped checking once this was clear; the file may contain more.",
           "instead": "What you can do instead, right now", "helpdesk": "The helpdesk", "reference": "Reference",
           "mail": "E-mail the helpdesk", "title_allow": "This upload was allowed",
           "title_warn": "This upload may go, with care",
           "review_title": "Need this tool or site? Ask IT to review it", "review_sent": "You asked IT to review",
           "status": "status", "status_open": "waiting for IT", "status_approved": "approved",
           "status_declined": "declined", "review_tool": "Which tool or site", "review_why": "What you need it for",
           "review_when": "By when (optional)", "review_send": "Ask IT to review",
           "wrong_title": "Does this look wrong?", "wrong_what": "What is the file, as far as you know?",
           "wrong_send": "Tell IT this looks wrong",
           "wrong_thanks": "Thank you: IT will look at this decision and at what was found."},
    "sv": {"title": "Tyvärr, den här uppladdningen stoppades", "file": "Fil", "why": "Varför",
           "examples": "Hittat, maskerat",
           "partial": "Detour slutade kontrollera när detta stod klart; filen kan innehålla mer.",
           "instead": "Det här kan du göra i stället, redan nu", "helpdesk": "IT-supporten", "reference": "Referens",
           "mail": "Mejla IT-supporten", "title_allow": "Uppladdningen tilläts",
           "title_warn": "Uppladdningen får gå, men var försiktig",
           "review_title": "Behöver du verktyget eller webbplatsen? Be IT granska den",
           "review_sent": "Du har bett IT granska", "status": "status", "status_open": "väntar på IT",
           "status_approved": "godkänd", "status_declined": "avslagen", "review_tool": "Vilket verktyg eller webbplats",
           "review_why": "Vad du behöver den till", "review_when": "Senast när (valfritt)",
           "review_send": "Be IT granska", "wrong_title": "Ser det här fel ut?",
           "wrong_what": "Vad är filen, så vitt du vet?", "wrong_send": "Säg till IT att det ser fel ut",
           "wrong_thanks": "Tack! IT tittar på beslutet och på det som hittades."},
    "nl": {"title": "Sorry, deze upload is tegengehouden", "file": "Bestand", "why": "Waarom",
           "examples": "Gevonden, gemaskeerd",
           "partial": "Detour stopte met controleren toen dit duidelijk was; het bestand kan meer bevatten.",
           "instead": "Dit kun je nu in plaats daarvan doen", "helpdesk": "De servicedesk", "reference": "Referentie",
           "mail": "Mail de servicedesk", "title_allow": "Deze upload is toegestaan",
           "title_warn": "Deze upload mag, maar wees voorzichtig",
           "review_title": "Heb je deze tool of site nodig? Vraag IT om hem te beoordelen",
           "review_sent": "Je hebt IT gevraagd te beoordelen", "status": "status", "status_open": "wacht op IT",
           "status_approved": "goedgekeurd", "status_declined": "afgewezen", "review_tool": "Welke tool of site",
           "review_why": "Waarvoor je hem nodig hebt", "review_when": "Uiterlijk wanneer (optioneel)",
           "review_send": "Vraag IT om beoordeling", "wrong_title": "Lijkt dit niet te kloppen?",
           "wrong_what": "Wat is het bestand, voor zover je weet?", "wrong_send": "Laat IT weten dat dit niet klopt",
           "wrong_thanks": "Dank je: IT bekijkt deze beslissing en wat er gevonden is."},
}

_environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                           autoescape=select_autoescape(default=True), auto_reload=False)


def render_block_page(report: Report, link_base: str | None = None, stored: StoredDecision | None = None) -> str:
    """The page for a decision. With ``link_base`` (Detour's own address) the routes go through
    ``/d/{id}/go/{route}``, which records that the route was taken; without, straight to the route."""
    examples = [example for finding in report.findings for example in finding.examples][:6]
    texts = _TEXTS[report.language]
    title = texts["title"] if report.decision.value == "block" else texts[f"title_{report.decision.value}"]
    links = {offer.id: f"{link_base}/d/{report.decision_id}/go/{offer.id}" if link_base is not None else offer.url
             for offer in report.alternatives}
    return _environment.get_template("block.html").render(
        report=report, t=texts, title=title, file=display_name(report.file), examples=examples, links=links,
        stored=stored)


def wants_json(accept: str) -> bool:
    """API clients (Accept: application/json, without text/html) get the decision JSON."""
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept
