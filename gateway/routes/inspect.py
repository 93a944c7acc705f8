"""``POST /v1/inspect``: multipart form with one or more files, or a raw body with headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from alternatives.catalogue import Language
from gateway.deps import PipelineDep
from gateway.errors import BadRequest
from gateway.i18n import negotiate, parse_language
from gateway.pipeline import Pipeline, UploadRequest
from gateway.report import Report

router = APIRouter(tags=["inspect"])

MAX_FILES = 100
DECISION_HEADER = "X-Detour-Decision"

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
                    "user": {"type": "string"},
                    "group": {"type": "string"},
                },
            }
        },
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary"},
            "description": "The file as the raw body; name and destination in X-Detour-Filename "
            "(or Content-Disposition) and X-Detour-Destination headers",
        },
    },
}


@router.post(
    "/v1/inspect",
    summary="Inspect one or more uploads and decide by the policy",
    description="Returns the decision JSON (HTTP 200 whatever the decision); a list when several files "
    "were sent. `Accept-Language` (or `?lang=`) picks English, Swedish or Dutch.",
    response_model=Report | list[Report],
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={400: {"description": "Malformed request"}, 413: {"description": "Upload too large"}},
)
async def inspect(
    request: Request,
    pipeline: PipelineDep,
    destination: str | None = Query(None, description="Destination URL or host (raw body uploads)"),
    filename: str | None = Query(None, description="File name (raw body uploads)"),
    lang: str | None = Query(None, description="en, sv or nl; overrides Accept-Language"),
) -> JSONResponse:
    language = parse_language(lang) or negotiate(request.headers.get("accept-language"), pipeline.default_language)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        reports = await _inspect_form(request, pipeline, language, destination)
    else:
        reports = [await _inspect_raw(request, pipeline, language, destination, filename)]
    if len(reports) == 1:
        body: Any = reports[0].model_dump(mode="json")
        headers = {DECISION_HEADER: reports[0].decision_id}
    else:
        body = [r.model_dump(mode="json") for r in reports]
        headers = {}
    return JSONResponse(body, headers=headers)


async def _inspect_form(
    request: Request, pipeline: Pipeline, language: Language, destination: str | None
) -> list[Report]:
    form = await request.form(max_files=MAX_FILES, max_fields=100)
    try:
        files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise BadRequest("The form has no file part. Send the file as a form field of type file, e.g. "
                             "curl -F file=@customers.csv …")
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        reports = []
        for upload in files:
            blob = await upload.read()
            upload_request = UploadRequest(
                file_name=upload.filename or "upload",
                destination=fields.get("destination") or destination or "",
                user=fields.get("user"),
                group=fields.get("group"),
            )
            reports.append(await run_in_threadpool(pipeline.inspect, blob, upload_request, language))
        return reports
    finally:
        await form.close()


async def _inspect_raw(
    request: Request, pipeline: Pipeline, language: Language, destination: str | None, filename: str | None
) -> Report:
    blob = await request.body()
    if not blob:
        raise BadRequest("The request body is empty. Send the file as the body (with an X-Detour-Filename "
                         "header) or as multipart/form-data.")
    headers = request.headers
    upload_request = UploadRequest(
        file_name=filename or _header_filename(headers.get("x-detour-filename"), headers.get("content-disposition")),
        destination=headers.get("x-detour-destination") or destination or "",
        user=headers.get("x-detour-user"),
        group=headers.get("x-detour-group"),
    )
    return await run_in_threadpool(pipeline.inspect, blob, upload_request, language)


def _header_filename(explicit: str | None, disposition: str | None) -> str:
    """File name from X-Detour-Filename (percent-encoded UTF-8 allowed) or Content-Disposition."""
    if explicit:
        return unquote(explicit)
    if disposition:
        params = [p.strip() for p in disposition.split(";")[1:]]
        for param in params:  # RFC 6266: filename* (RFC 8187) wins over filename
            key, _, value = param.partition("=")
            if key.strip().lower() == "filename*" and "''" in value:
                charset, _, encoded = value.partition("''")
                return unquote(encoded, encoding=charset or "utf-8", errors="replace")
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "filename":
                return value.strip().strip('"')
    return "upload"
