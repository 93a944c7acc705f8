"""IT's console pages (``/admin``), server-rendered with Jinja2 and autoescaping, in English, Swedish or
Dutch; charts are inline SVG (nothing from a CDN: the console works offline)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from alternatives.catalogue import LANGUAGES, Language
from gateway.render.i18n import LANGUAGE_NAMES, N_, translations, translator

VIEWS = ("dashboard", "decisions", "decision", "reviews", "exceptions", "policy", "policy_diff", "simulation",
         "actions", "message")
FILTER_NAMES = {"since": N_("since"), "until": N_("until"), "rule": N_("rule"), "data_class": N_("data class"),
                "user": N_("user"), "group": N_("group"), "destination": N_("destination"),
                "category": N_("category")}
STATUSES = {"open": N_("open"), "approved": N_("approved"), "declined": N_("declined"),
            "confirmed": N_("confirmed"), "rejected": N_("rejected")}


@cache
def _environment(language: Language) -> Environment:
    environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                              autoescape=select_autoescape(default=True), auto_reload=False,
                              extensions=["jinja2.ext.i18n"])
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return environment


def render_console(view: str, language: Language = "en", **context: Any) -> str:
    if view not in VIEWS:
        raise ValueError(view)
    _ = translator(language)
    return _environment(language).get_template("console.html").render(
        view=view, language=language, languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        filter_names={key: _(name) for key, name in FILTER_NAMES.items()},
        statuses={key: _(name) for key, name in STATUSES.items()}, **context)
