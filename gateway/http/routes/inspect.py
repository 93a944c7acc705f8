"""``POST /v1/inspect``: one or more files as a multipart form, or one file as the raw body.

The body is read as a stream (``proxy.body``): each file is hashed whole and kept
up to the upload limit, so a file over the limit is decided by the policy (as
content that can't be checked) and recorded, like a form that does not parse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers

from gateway.errors import BadRequest
from gateway.http.auth import Caller, CallerDep, api_caller
from gateway.http.deps import PipelineDep
from gateway.proxy.body import MAX_FILES, Body, BodyReader, clean_file_name, disposition_filename
from gateway.records import Action, Channel, Content, Envelope
from gateway.render.i18n import negotiate, parse_language
from gateway.render.pages import DECISION_HEADER
from gateway.render.report import Report

router = APIRouter(tags=["inspect"])
MAX_URL = 8192  # characters of a destination URL asked about

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "One or more file parts (any field name is accepted)"},
                    "destination": {"type": "string", "description": "Where the upload is going (URL or host)"},
                    "user": {"type": "string", "description": "On whose behalf (clients allowed to assert users)"},
                    "group": {"type": "string", "description": "The person's group (clients allowed to assert users)"},
                },
            }
        },
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary"},
            "description": "The file as the raw body; name and destination in X-Detour-Filename "
            "(or Content-Disposition) and X-Detour-Destination headers; clients allowed to assert users add "
            "X-Detour-User, X-Detour-Group and X-Detour-Client-Ip",
        },
    },
}


@router.post(
    "/v1/inspect",
    summary="Inspect one or more uploads and decide by the policy",
    description="Returns the decision JSON (HTTP 200 whatever the decision); a list when several files "
    f"were sent (at most {MAX_FILES}). `Accept-Language` (or `?lang=`) picks English, Swedish or Dutch; "
    "the default is the policy's language. A file over the upload limit, or a form that does not parse, "
    "is decided by the policy as content that can't be checked. Send the client token as "
    "`Authorization: Bearer`.",
    response_model=Report | list[Report],
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={400: {"description": "No file in the request"}, 401: {"description": "No valid client token"},
               403: {"description": "The client may not name the user, group or address"}},
)
async def inspect(
    request: Request,
    pipeline: PipelineDep,
    caller: CallerDep,
    destination: str | None = Query(None, description="Destination URL or host (raw body uploads)"),
    filename: str | None = Query(None, description="File name (raw body uploads)"),
    lang: str | None = Query(None, description="en, sv or nl; overrides Accept-Language"),
) -> JSONResponse:
    headers = request.headers
    language = parse_language(lang) or negotiate(headers.get("accept-language"), pipeline.default_language)
    content_type = headers.get("content-type", "")
    form = content_type.lower().startswith("multipart/form-data")
    name = filename or header_filename(headers.get("x-detour-filename"), headers.get("content-disposition"))
    with BodyReader(content_type if form else "application/octet-stream", pipeline.limits.max_upload_bytes,
                    name) as reader:
        async for chunk in request.stream():
            reader.feed(chunk)
        sender, uploads = _uploads(reader.finish(), form, reader.received, destination, headers, caller)
        reports = []
        for file_name, load, on_disk in uploads:
            content = await asyncio.to_thread(load) if on_disk else load()  # one file in memory at a time
            reports.append(await pipeline.inspect_async(content, replace(sender, file_name=file_name), language))
    if len(reports) == 1:
        answer: Any = reports[0].model_dump(mode="json")
        answer_headers = {DECISION_HEADER: reports[0].decision_id}
    else:
        answer = [r.model_dump(mode="json") for r in reports]
        answer_headers = {}
    return JSONResponse(answer, headers={**answer_headers, "Cache-Control": "no-store"})


class DestinationOut(BaseModel):
    host: str
    category: str
    sanctioned: bool
    on_error: Action = Field(description="What the policy does with an upload there that can't be checked (Detour "
                             "unreachable, a timeout): the browser extension's answer when it can't ask")


@router.get("/v1/destinations", response_model=DestinationOut, dependencies=[Depends(api_caller)],
            summary="How the policy sees a destination: its category, whether it is sanctioned, and on_error")
async def destination(pipeline: PipelineDep,
                      url: str = Query(..., min_length=1, max_length=MAX_URL, description="A URL or host")) -> Any:
    policy = pipeline.policy
    where = policy.destinations.classify(url)
    on_error = policy.document.policy.on_error
    return DestinationOut(host=where.host, category=where.category, sanctioned=where.sanctioned,
                          on_error=on_error.sanctioned if where.sanctioned else on_error.unsanctioned)


Uploads = list[tuple[str, Callable[[], Content], bool]]


def _uploads(body: Body, form: bool, received: int, destination: str | None, headers: Headers,
             caller: Caller) -> tuple[Envelope, Uploads]:
    """Who sends it where (form fields or X-Detour-* headers), and each upload with a way to load it."""
    client_ip = headers.get("x-detour-client-ip")
    channel = _channel(headers.get("x-detour-channel"))
    if form:
        fields = dict(body.fields)
        envelope = replace(caller.sender(channel, fields.get("user"), fields.get("group"), client_ip),
                           destination=fields.get("destination") or destination or "")
        if body.problem is not None:
            problem = body.problem
            return envelope, [("form", lambda: Content(b"", problem=problem), False)]
        if not body.files:
            raise BadRequest("The form has no file part. Send the file as a form field of type file, e.g. "
                             "curl -F file=@customers.csv …")
        return envelope, [(f.name, f.content, f.on_disk) for f in body.files]
    if received == 0:
        raise BadRequest("The request body is empty. Send the file as the body (with an X-Detour-Filename "
                         "header) or as multipart/form-data.")
    envelope = replace(caller.sender(channel, headers.get("x-detour-user"), headers.get("x-detour-group"),
                                     client_ip), destination=headers.get("x-detour-destination") or destination or "")
    return envelope, [(f.name, f.content, f.on_disk) for f in body.files]


def _channel(named: str | None) -> Channel:
    """The channel a caller says it is (``X-Detour-Channel``): the API, or the browser extension."""
    if named is None or named.strip().lower() in ("", Channel.API.value):
        return Channel.API
    if named.strip().lower() == Channel.EXTENSION.value:
        return Channel.EXTENSION
    raise BadRequest("X-Detour-Channel is api or extension.")


def header_filename(explicit: str | None, disposition: str | None) -> str:
    """File name from X-Detour-Filename (percent-encoded UTF-8 allowed) or Content-Disposition."""
    if explicit:
        return clean_file_name(unquote(explicit)) or "upload"
    return (disposition_filename(disposition) if disposition else None) or "upload"
