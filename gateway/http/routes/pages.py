"""The decision page ``/d/{decision_id}`` and what staff can do from it.

- ``GET /d/{id}``: the decision in the person's language (``?lang=``, else
  Accept-Language, else the language it was decided in), with a switcher;
- ``GET /d/{id}/go/{alternative_id}``: record that the route was taken, then
  redirect to that route's URL as offered with the decision: only URLs from the
  policy's catalogue, never one from the request (no open redirect);
- ``POST /d/{id}/justify``: a business reason for a warning (then the same file
  may go); ``POST /v1/decisions/{id}/justification`` does the same for programs;
- ``POST /d/{id}/review``, ``/wrong``, ``/ticket``: ask IT to review a tool, say
  the decision looks wrong, send it to the helpdesk (webhook);
- ``POST /d/{id}/redact``: the redacted copy of the same file.

Decision ids are unguessable (80 random bits): the id is the capability to see
the page. Forms post back here and answer with a redirect to the page (303).
Every form carries the decision's form token (``render.forms``) and must come
from Detour's own pages (or, for a warning's reason, from the page a proxy
showed in the destination's name): a form posted from another site is refused.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from alternatives.catalogue import Language
from detectors.errors import Unredactable
from gateway.errors import BadRequest, DetourError
from gateway.http.auth import api_caller
from gateway.http.deps import PipelineDep, RuntimeDep, SettingsDep, StoreDep, WebhookDep
from gateway.records import Channel
from gateway.render.i18n import negotiate, parse_language, translator
from gateway.render.pages import PageOptions, render_block_page, render_message, render_recent
from gateway.runtime import Runtime
from gateway.settings import valid_address
from gateway.staff.justification import MAX_CHARACTERS, MIN_CHARACTERS, justify, one_line
from gateway.staff.recent import MAX_LISTED, RECENT_DAYS, RecentLinks
from gateway.staff.redaction import REDACTED_ROUTE, make_copy, offered
from gateway.staff.webhook import payload
from gateway.store import StoredDecision

log = logging.getLogger(__name__)
router = APIRouter(tags=["pages"])

MAX_FORM_FIELDS = 10


def _page_headers(language: str, nonce: str | None = None) -> dict[str, str]:
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    return {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Language": language,
            "Vary": "Accept-Language", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
                                       "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}


def _language(request: Request, chosen: object = None) -> Language | None:
    """``?lang=`` (or a form's ``lang``), else the browser's Accept-Language when it names one of ours."""
    explicit = parse_language(str(chosen or request.query_params.get("lang") or ""))
    if explicit is not None:
        return explicit
    accept = request.headers.get("accept-language")
    return negotiate(accept) if accept and any(parse_language(t.split(";")[0]) for t in accept.split(",")) else None


def _get(runtime: Runtime, decision_id: str, language: Language | None = None) -> StoredDecision:
    stored = runtime.find(decision_id, language)
    if stored is None:
        raise HTTPException(404, "No decision with this reference. Check the reference in your message.")
    return stored


def _recorded(runtime: Runtime, decision_id: str, language: Language | None = None) -> StoredDecision:
    """A decision that is in the store: what the forms act on. One still on its way gets a 'moment' page."""
    stored = _get(runtime, decision_id, language)
    if stored.recording:
        raise StillRecording(stored)
    return stored


class StillRecording(DetourError):
    """A form for a decision that is not in the store yet: answered with a page asking to try again."""

    def __init__(self, stored: StoredDecision) -> None:
        super().__init__(stored.id)
        self.stored = stored


def still_recording(stored: StoredDecision) -> HTMLResponse:
    _ = translator(stored.report.language)
    return _message(stored, _("This decision is still being recorded. Please try again in a moment."), 409)


@router.get("/d/{decision_id}", response_class=HTMLResponse, summary="The page of a decision")
async def decision_page(decision_id: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    stored = await run_in_threadpool(_get, runtime, decision_id, _language(request))
    nonce = secrets.token_urlsafe(16)
    recording = stored.recording  # on its way to the store: the routes work, the forms come when it is there
    recent = None if recording else await _recent_link(request, runtime, stored)
    options = PageOptions(link_base=None if recording else "", action_base=None if recording else "", nonce=nonce,
                          switcher=True, form_token=runtime.form_tokens.issue(stored.id), recording=recording,
                          redaction=not recording and offered(runtime.pipeline, stored.report),
                          helpdesk_webhook=runtime.webhook is not None, recent_link=recent)
    return HTMLResponse(render_block_page(stored.report, options, None if recording else stored.history),
                        headers=_page_headers(stored.report.language, nonce))


def _recent_links(runtime: Runtime) -> RecentLinks:
    return RecentLinks(runtime.form_tokens.derived("recent stops"))


# The channels whose user names Detour can believe: a proxy's (authenticated by the proxy itself). A user an
# API client or the browser extension names is only as good as a token many people may hold.
PROXY_USERS = frozenset({Channel.ICAP.value, Channel.INTERCEPT.value})


async def _recent_link(request: Request, runtime: Runtime, stored: StoredDecision) -> str | None:
    """The link to the sender's recent stops, for the sender alone: the decision names a user a proxy vouched
    for, and the page is opened from the address the upload came from (not by whoever else holds the
    reference: the helpdesk, a chat, the destination site)."""
    viewer = valid_address(request.client.host) if request.client else None
    if viewer is None or viewer != stored.history.client_ip:
        return None
    try:
        who, user, channel = await run_in_threadpool(runtime.store.sender_of, stored.id)
    except SQLAlchemyError:
        log.warning("the decision store could not be asked who sent %s; the page has no recent-stops link",
                    stored.id)
        return None
    if not who or not user or channel not in PROXY_USERS:
        return None
    return f"/me?t={_recent_links(runtime).issue(who)}&lang={stored.report.language}"


@router.get("/me", response_class=HTMLResponse, summary="A person's recent stops (the link on their decision pages)")
async def recent_stops(request: Request, runtime: RuntimeDep, t: str = "") -> HTMLResponse:
    language = _language(request) or runtime.pipeline.default_language
    opened = _recent_links(runtime).open(t)
    if opened.who is None:
        status = 410 if opened.expired else 403
        return HTMLResponse(render_recent(language, None, RECENT_DAYS, expired=opened.expired), status_code=status,
                            headers=_page_headers(language))
    since = datetime.now(UTC) - timedelta(days=RECENT_DAYS)
    try:
        stops = await run_in_threadpool(runtime.store.recent_of, opened.who, since, MAX_LISTED)
    except SQLAlchemyError:
        log.warning("the decision store could not be read for a recent-stops page")
        return HTMLResponse(render_recent(language, None, RECENT_DAYS, unavailable=True), status_code=503,
                            headers={**_page_headers(language), "Retry-After": "30"})
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(render_recent(language, stops, RECENT_DAYS, nonce=nonce, token=t, limit=MAX_LISTED),
                        headers=_page_headers(language, nonce))


@router.get("/d/{decision_id}/go/{alternative_id}", summary="Take an offered route (recorded), then go there")
async def take_route(decision_id: str, alternative_id: str, runtime: RuntimeDep) -> RedirectResponse:
    stored = await run_in_threadpool(_get, runtime, decision_id)
    offer = next((o for o in stored.report.alternatives if o.id == alternative_id), None)
    if offer is None or not offer.url:
        raise HTTPException(404, "This route was not offered with this decision.")
    if not stored.recording:  # a decision still on its way: the person goes on, the click is not counted
        await run_in_threadpool(runtime.store.route_taken, decision_id, alternative_id)
    return RedirectResponse(offer.url, status_code=303, headers={"Cache-Control": "no-store"})


def _back(decision_id: str, language: Language | None, anchor: str) -> RedirectResponse:
    query = f"?lang={language}" if language else ""
    return RedirectResponse(f"/d/{decision_id}{query}#{anchor}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _from_its_page(request: Request, runtime: Runtime, stored: StoredDecision, token: object,
                   proxied: bool = False) -> bool:
    """The form carries this decision's token, and the browser says it comes from Detour's page (or, with
    ``proxied``, from the page a proxy answered in the destination's name). A browser that names no origin
    (``Origin: null`` under Detour's no-referrer policy) is judged by the token alone."""
    if not runtime.form_tokens.valid(stored.id, token):
        return False
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if origin in ("", "null"):
        return True
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return False
    allowed = {request.url.hostname, urlsplit(runtime.settings.public_url).hostname}
    if proxied:
        allowed.add(stored.report.destination.host)
    return host is not None and host in allowed


def _refused(stored: StoredDecision) -> HTMLResponse:
    _ = translator(stored.report.language)
    return _message(stored, _("This form could not be accepted. Open the decision page again and send it from "
                              "there."), 403)


@router.post("/d/{decision_id}/justify", summary="Give a business reason for a warning; then the same file may go")
async def justify_form(decision_id: str, request: Request, runtime: RuntimeDep, store: StoreDep,
                       settings: SettingsDep) -> Response:
    form = await _form(request)
    language = _language(request, form.get("lang"))
    stored = await run_in_threadpool(_recorded, runtime, decision_id, language)
    if not _from_its_page(request, runtime, stored, form.get("form_token"), proxied=True):
        return _refused(stored)
    try:
        await run_in_threadpool(justify, store, runtime.pipeline.masker, stored, form.get("justification"),
                                settings.justification_minutes)
    except BadRequest as problem:
        return _message(stored, str(problem), 400)
    return _back(decision_id, language, "proceed")


class JustificationIn(BaseModel):
    justification: str = Field(min_length=MIN_CHARACTERS, max_length=MAX_CHARACTERS,
                               description="The business reason, in the person's words")


class JustificationOut(BaseModel):
    decision_id: str
    justified: bool
    expires: str = Field(description="Until when (ISO 8601, UTC) the same file may go to the same site")


@router.post("/v1/decisions/{decision_id}/justification", tags=["inspect"], response_model=JustificationOut,
             summary="Record a business reason for a warning (browser extensions, scripts)",
             dependencies=[Depends(api_caller)])
async def justify_api(decision_id: str, body: Annotated[JustificationIn, Body()], runtime: RuntimeDep,
                      store: StoreDep, settings: SettingsDep) -> JustificationOut:
    stored = await run_in_threadpool(_recorded, runtime, decision_id)
    justification = await run_in_threadpool(justify, store, runtime.pipeline.masker, stored, body.justification,
                                            settings.justification_minutes)
    return JustificationOut(decision_id=decision_id, justified=True,
                            expires=justification.expires.isoformat(timespec="seconds"))


@router.get("/v1/decisions/{decision_id}", tags=["inspect"], dependencies=[Depends(api_caller)],
            summary="A decision as /v1/inspect answered it, in the asked language (the browser extension shows "
                    "it when a proxy stopped an upload)",
            responses={404: {"description": "No decision with this reference"}})
async def decision_api(decision_id: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    stored = await run_in_threadpool(_get, runtime, decision_id, _language(request))
    answer = stored.report.model_dump(mode="json")
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.post("/d/{decision_id}/review", summary="Ask IT to review the destination (what tool, why, by when)")
async def request_review(decision_id: str, request: Request, runtime: RuntimeDep) -> Response:
    form = await _form(request)
    language = _language(request, form.get("lang"))
    stored = await run_in_threadpool(_recorded, runtime, decision_id, language)
    if not _from_its_page(request, runtime, stored, form.get("form_token")):
        return _refused(stored)
    masked = runtime.pipeline.masker.text  # what people type may hold the values they wanted to send
    tool, why = masked(one_line(form.get("tool"), 200)), masked(one_line(form.get("why"), 2000))
    needed_by = masked(one_line(form.get("needed_by"), 40))
    if not tool or not why:
        _ = translator(stored.report.language)
        return _message(stored, _("Say which tool or site you need and what for."), 400)
    await run_in_threadpool(runtime.store.request_review, decision_id, tool, why, needed_by)
    await notify(runtime, decision_id, "review_request", {"review": {"tool": tool, "why": why,
                                                                      "needed_by": needed_by}})
    return _back(decision_id, language, "review")


@router.post("/d/{decision_id}/wrong", summary="Report that the decision looks wrong (a false positive)")
async def report_wrong(decision_id: str, request: Request, runtime: RuntimeDep) -> Response:
    form = await _form(request)
    language = _language(request, form.get("lang"))
    stored = await run_in_threadpool(_recorded, runtime, decision_id, language)
    if not _from_its_page(request, runtime, stored, form.get("form_token")):
        return _refused(stored)
    believed = runtime.pipeline.masker.text(one_line(form.get("believed"), 2000))
    if not believed:
        _ = translator(stored.report.language)
        return _message(stored, _("Say what the file is, as far as you know."), 400)
    await run_in_threadpool(runtime.store.report_wrong, decision_id, believed)
    await notify(runtime, decision_id, "wrong_report", {"believed": believed})
    return _back(decision_id, language, "wrong")


@router.post("/d/{decision_id}/ticket", summary="Send the decision to the helpdesk (webhook)")
async def ticket(decision_id: str, request: Request, runtime: RuntimeDep, webhook: WebhookDep) -> Response:
    form = await _form(request)
    language = _language(request, form.get("lang"))
    stored = await run_in_threadpool(_recorded, runtime, decision_id, language)
    if not _from_its_page(request, runtime, stored, form.get("form_token")):
        return _refused(stored)
    if webhook is None:
        raise HTTPException(404, "No helpdesk webhook is configured; e-mail the helpdesk instead.")
    await notify(runtime, decision_id, "ticket", {"note": runtime.pipeline.masker.text(one_line(form.get("note"),
                                                                                                  2000))})
    return _back(decision_id, language, "helpdesk")


async def notify(runtime: Runtime, decision_id: str, event: str, extra: dict[str, object]) -> None:
    """Queue the message for the helpdesk webhook and try it at once; IT reads it in the policy's language."""
    webhook = runtime.webhook
    if webhook is None:
        return
    for_it = await run_in_threadpool(_recorded, runtime, decision_id, runtime.pipeline.default_language)
    message = payload(event, for_it, runtime.settings.public_url, extra)
    await run_in_threadpool(webhook.submit, decision_id, event, message)


@router.post("/d/{decision_id}/redact", summary="Download a copy of the same file with the values masked",
             response_class=Response, responses={200: {"description": "The redacted copy, as an attachment"}})
async def redacted_copy(decision_id: str, request: Request, runtime: RuntimeDep, pipeline: PipelineDep,
                        store: StoreDep) -> Response:
    # the decision first: nobody makes Detour read a file for a decision that is not there
    stored = await run_in_threadpool(_recorded, runtime, decision_id, _language(request))
    async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS) as form:
        language = _language(request, form.get("lang"))
        if language is not None and language != stored.report.language:
            stored = await run_in_threadpool(_recorded, runtime, decision_id, language)
        if not _from_its_page(request, runtime, stored, form.get("form_token")):
            return _refused(stored)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            _ = translator(stored.report.language)
            return _message(stored, _("Choose the file first."), 400)
        blob = await upload.read()
    try:
        copy = await run_in_threadpool(make_copy, pipeline, stored.report, blob)
    except Unredactable as problem:
        return _message(stored, str(problem), 422)
    await run_in_threadpool(store.route_taken, decision_id, REDACTED_ROUTE)
    disposition = f"attachment; filename*=UTF-8''{_quote(copy.file_name)}"
    return Response(copy.data, media_type=copy.media_type,
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                             "X-Detour-Masked": str(copy.masked), "X-Content-Type-Options": "nosniff"})


def _message(stored: StoredDecision, text: str, status: int) -> HTMLResponse:
    """A short page that says what went wrong with a form, with the way back."""
    return HTMLResponse(render_message(stored.report, text), status_code=status,
                        headers=_page_headers(stored.report.language))


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
