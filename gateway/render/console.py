"""IT's console pages (``/admin``), server-rendered with Jinja2 and autoescaping; charts are inline SVG
(nothing from a CDN: the console works offline). English for now: the staff pages are the translated ones."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

VIEWS = ("dashboard", "decisions", "decision", "reviews", "exceptions", "actions", "message")


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                       autoescape=select_autoescape(default=True), auto_reload=False)


def render_console(view: str, **context: Any) -> str:
    if view not in VIEWS:
        raise ValueError(view)
    return _environment().get_template("console.html").render(view=view, **context)
