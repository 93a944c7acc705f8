"""Deciding on an intercepted HTTP request, the same way for every proxy channel (ICAP, ``/v1/intercept``).

The channel reads the request's body (``proxy.body``) and hands over its head,
the body and who sent it; each file (and a form's text fields, as one text
upload) goes through the pipeline; one stopped upload stops the request. A body
that can't be read is decided by the policy as content that can't be checked.
The answer is in the language the request's Accept-Language asks for, else the
policy's.

A warning stops the request too when the person can justify it: when Detour's
pages are reachable (``DETOUR_PUBLIC_URL``), the page asks for a business reason
and, once it is recorded, the same file to the same site from the same person
goes through (the pipeline marks such a warning ``justified_by``). Without
``DETOUR_PUBLIC_URL`` a warning is recorded and the upload goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from gateway.pipeline import Pipeline
from gateway.proxy.body import FORM_FIELDS, Body, HttpRequestHead, form_fields_content
from gateway.records import Action, Content, Envelope
from gateway.render.i18n import negotiate
from gateway.render.report import Report

log = logging.getLogger(__name__)


async def decide_request(pipeline: Pipeline, head: HttpRequestHead, body: Body, sender: Envelope,
                         warnings_stop: bool = False) -> Report | None:
    """The report that stops the request, or None when every upload may go. ``sender``: who sends it
    through which channel (its file name and destination are each upload's). With ``warnings_stop``,
    a warning not yet justified stops it too (the page asks for the reason)."""
    language = negotiate(head.header("Accept-Language"), pipeline.default_language)
    stopping: Report | None = None
    for name, load, on_disk in _uploads(body):
        envelope = replace(sender, file_name=name, destination=head.url)
        try:
            content = await asyncio.to_thread(load) if on_disk else load()  # one file in memory at a time
            report = await pipeline.inspect_async(content, envelope, language)
        except Exception:  # a bug of ours on the way in: still a decision by the policy, never a dropped request
            log.exception("an upload could not be handed to the pipeline; the policy's on_error decides")
            report = await asyncio.to_thread(pipeline.failed, Content(b""), envelope, language, "error")
        if report.decision is Action.BLOCK:
            return report
        if warnings_stop and report.decision is Action.WARN and report.justified_by is None and stopping is None:
            stopping = report
    return stopping


def _uploads(body: Body) -> list[tuple[str, Callable[[], Content], bool]]:
    """What the request uploads: each file, then the form's text fields as one text upload; and for
    each, whether loading it reads a spool file."""
    if body.problem is not None:
        problem = body.problem
        return [("form", lambda: Content(b"", problem=problem), False)]
    uploads = [(f.name, f.content, f.on_disk) for f in body.files]
    if body.fields:
        fields = body.fields
        uploads.append((FORM_FIELDS, lambda: form_fields_content(fields), False))
    return uploads
