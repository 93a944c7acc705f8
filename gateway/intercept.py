"""Deciding on an intercepted HTTP request, the same way for every proxy adapter (ICAP, mitmproxy).

An adapter hands over the request head and its uploads (``gateway.uploads``);
each upload is inspected by the pipeline; one blocked upload blocks the request.
The answer to a blocked request is a 403 with the block page for browsers, or
the decision JSON for API clients, always with ``X-Detour-Decision``.
"""

from __future__ import annotations

from collections.abc import Callable

from alternatives.catalogue import Language
from gateway.blockpage import DECISION_HEADER, render_block_page, wants_json
from gateway.i18n import negotiate
from gateway.pipeline import Pipeline, UploadRequest
from gateway.policy.schema import Action
from gateway.report import Report
from gateway.uploads import HttpRequestHead, Upload

Inspector = Callable[[bytes, UploadRequest, Language], Report]


def decide_request(inspect: Inspector, head: HttpRequestHead, uploads: list[Upload], user: str | None,
                   channel: str, client_ip: str | None = None) -> Report | None:
    """The report that blocks the request, or None when every upload may go."""
    language = negotiate(head.header("Accept-Language"))
    for upload in uploads:
        request = UploadRequest(upload.name, head.url, user=user, channel=channel, client_ip=client_ip)
        report = inspect(bytes(upload.data), request, language)
        if report.decision is Action.BLOCK:
            return report
    return None


def blocked_response(report: Report, accept: str, public_url: str = "") -> tuple[bytes, list[tuple[str, str]]]:
    """Body and headers of the HTTP 403 answer to a blocked request. With Detour's ``public_url``,
    the page's route links go through Detour's tracker and the answer names the decision page."""
    if wants_json(accept):
        body, content_type = report.model_dump_json(indent=1).encode(), "application/json"
    else:
        link_base = public_url.rstrip("/") if public_url else None
        body, content_type = render_block_page(report, link_base).encode(), "text/html; charset=utf-8"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               (DECISION_HEADER, report.decision_id), ("Cache-Control", "no-store"),
               ("Content-Language", report.language)]
    return body, headers


def pipeline_inspector(pipeline: Pipeline) -> Inspector:
    return pipeline.inspect
