"""Deciding on an intercepted HTTP request, the same way for every proxy adapter (ICAP, mitmproxy).

An adapter hands over the request head and its uploads (``gateway.uploads``);
each upload is inspected by the pipeline; one blocked upload blocks the request.
The answer to a blocked request is a 403 with the block page for browsers, or
the decision JSON for API clients, always with ``X-Detour-Decision``.

A warning stops the request too when the person can justify it: when Detour's
pages are reachable (``DETOUR_PUBLIC_URL``), the page asks for a business reason
and, once it is recorded, the same file to the same site from the same person
goes through (the pipeline marks such a warning ``justified_by``). Without
``DETOUR_PUBLIC_URL`` a warning is recorded and the upload goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from alternatives.catalogue import Language
from gateway.blockpage import DECISION_HEADER, PageOptions, render_block_page, wants_json
from gateway.i18n import negotiate
from gateway.pipeline import Pipeline, UploadRequest
from gateway.policy.schema import Action
from gateway.report import Report
from gateway.uploads import HttpRequestHead, Upload

Inspector = Callable[[bytes, UploadRequest, Language], Report]


def decide_request(inspect: Inspector, head: HttpRequestHead, uploads: list[Upload], user: str | None,
                   channel: str, client_ip: str | None = None, warnings_stop: bool = False) -> Report | None:
    """The report that stops the request, or None when every upload may go. With ``warnings_stop``,
    a warning not yet justified stops it too (the page asks for the reason)."""
    language = negotiate(head.header("Accept-Language"))
    stopping: Report | None = None
    for upload in uploads:
        request = UploadRequest(upload.name, head.url, user=user, channel=channel, client_ip=client_ip)
        report = inspect(bytes(upload.data), request, language)
        if report.decision is Action.BLOCK:
            return report
        if warnings_stop and report.decision is Action.WARN and report.justified_by is None and stopping is None:
            stopping = report
    return stopping


def blocked_response(report: Report, accept: str, public_url: str = "") -> tuple[bytes, list[tuple[str, str]]]:
    """Body and headers of the HTTP 403 answer to a blocked request. With Detour's ``public_url``,
    the page's route links go through Detour's tracker and the answer names the decision page."""
    base = public_url.rstrip("/") if public_url else None
    if wants_json(accept):
        answer = report.model_dump(mode="json")
        if base is not None:
            answer["page"] = f"{base}/d/{report.decision_id}"
        body, content_type = json.dumps(answer, ensure_ascii=False, indent=1).encode(), "application/json"
    else:
        options = PageOptions(link_base=base, action_base=base,
                              page_link=f"{base}/d/{report.decision_id}" if base is not None else None)
        body, content_type = render_block_page(report, options).encode(), "text/html; charset=utf-8"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               (DECISION_HEADER, report.decision_id), ("X-Detour-Action", report.decision.value),
               ("Cache-Control", "no-store"), ("Content-Language", report.language),
               ("Content-Security-Policy", PROXIED_PAGE_CSP)]
    return body, headers


# The page answered in the destination's name: no script, nothing loaded, forms only to Detour.
PROXIED_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def pipeline_inspector(pipeline: Pipeline) -> Inspector:
    return pipeline.inspect
