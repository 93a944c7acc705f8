"""The answer to a stopped request, the same for every proxy: HTTP 403 with the block page or the decision JSON.

Browsers get the page (in the decision's language), API clients (``Accept:
application/json`` without ``text/html``) the decision JSON; always with
``X-Detour-Decision``. With Detour's ``public_url`` the page's route links go
through Detour's tracker and the answer names the decision page.
"""

from __future__ import annotations

import json

from gateway.render.pages import DECISION_HEADER, PageOptions, render_block_page, wants_json
from gateway.render.report import Report

# The page answered in the destination's name: no script, nothing loaded, forms only to Detour.
PROXIED_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def blocked_response(report: Report, accept: str, public_url: str = "", form_token: str = "",
                     copy_offered: bool = False) -> tuple[bytes, list[tuple[str, str]]]:
    """Body and headers of the HTTP 403 answer to a stopped request; ``form_token`` goes with the page's
    justification form (render.forms); ``copy_offered``: the decision's page offers a redacted copy (linked)."""
    base = public_url.rstrip("/") if public_url else None
    if wants_json(accept):
        answer = report.model_dump(mode="json")
        if base is not None:
            answer["page"] = f"{base}/d/{report.decision_id}"
        body, content_type = json.dumps(answer, ensure_ascii=False, indent=1).encode(), "application/json"
    else:
        options = PageOptions(link_base=base, action_base=base, form_token=form_token,
                              page_link=f"{base}/d/{report.decision_id}" if base is not None else None,
                              copy_offered=copy_offered)
        body, content_type = render_block_page(report, options).encode(), "text/html; charset=utf-8"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               (DECISION_HEADER, report.decision_id), ("X-Detour-Action", report.decision.value),
               ("Cache-Control", "no-store"), ("Content-Language", report.language),
               ("Content-Security-Policy", PROXIED_PAGE_CSP)]
    return body, headers
