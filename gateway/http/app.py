"""The FastAPI application: routes, middleware and error answers. ``create_app`` builds it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from gateway.errors import BadRequest, PolicyError
from gateway.http.answers import error
from gateway.http.auth import ADMIN_PREFIX, ApiCallers, NotAllowed, Unauthenticated
from gateway.http.middleware import (
    POLICY_DRAFT_BYTES,
    SMALL_BODY_BYTES,
    AccessLog,
    BodySizeLimit,
    BodyTimeout,
    ConsoleSessions,
)
from gateway.http.routes import admin, console, health, inspect, intercept, pages
from gateway.render.console import render_console
from gateway.render.i18n import negotiate, parse_language
from gateway.render.pages import DECISION_HEADER, render_not_found, wants_json
from gateway.runtime import Runtime
from gateway.settings import Settings, extension_origins, get_settings
from gateway.staff.webhook import HelpdeskWebhook
from gateway.store import retention

log = logging.getLogger(__name__)

DESCRIPTION = """
Detour inspects outbound uploads, decides by the policy files IT edits, and when it
blocks, answers with the approved alternative routes and a helpdesk message.
"""
WEBHOOK_RETRY_SECONDS = 30.0
CORS_MAX_AGE = 600  # seconds a browser may keep the answer to a preflight
EXTENSION_HEADERS = ("Authorization", "Content-Type", "Accept-Language", "X-Detour-Filename", "X-Detour-Destination",
                     "X-Detour-User", "X-Detour-Group", "X-Detour-Channel")  # what the extension sends
STREAMED_ROUTES = ("/v1/inspect", "/v1/intercept")  # read as streams; the policy decides on large files
FIELDS_ONLY = ("/justify", "/review", "/wrong", "/ticket", "/justification")  # forms and JSON without a file


def body_limit(path: str) -> int | None:
    """The most a request to ``path`` may send, when less than an upload: a draft policy, or a few fields."""
    if path in DRAFT_ROUTES:
        return POLICY_DRAFT_BYTES
    if path.startswith((ADMIN_PREFIX, "/admin/")) or (path.startswith(("/d/", "/v1/decisions/"))
                                                     and path.endswith(FIELDS_ONLY)):
        return SMALL_BODY_BYTES
    return None


DRAFT_ROUTES = (f"{ADMIN_PREFIX}policy/simulate", "/admin/policy/simulate")


async def _deliver_due(webhook: HelpdeskWebhook) -> None:
    """Deliver what the helpdesk webhook's outbox holds, while the app runs."""
    while True:
        await asyncio.sleep(WEBHOOK_RETRY_SECONDS)
        try:
            await asyncio.to_thread(webhook.deliver_due)
        except Exception:
            log.exception("helpdesk webhook: delivering the outbox failed; trying again later")


async def _purge_old(runtime: Runtime) -> None:
    """Purge decisions past the retention period, now and then once an hour, while the app runs."""
    while True:
        try:
            await asyncio.to_thread(retention.purge, runtime.store, runtime.settings.retention_days)
        except Exception:  # the store is down: next time
            log.warning("retention: the purge could not run (the decision store can't be reached); next hour")
        await asyncio.sleep(retention.PURGE_SECONDS)


DOCS_STATIC = "/static-offline-docs"
# The API docs' pages load only Detour's own files: ReDoc's bundle would fetch its logo from a CDN otherwise
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src blob:; connect-src 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")


def _api_docs(app: FastAPI) -> None:
    """Swagger UI (/docs) and ReDoc (/redoc) from the files fastapi-offline ships, not a CDN: they work where
    Detour runs without the internet, and their pages may load nothing from elsewhere."""

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="Detour API",
                                   swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_STATIC}/favicon.png")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url="/openapi.json", title="Detour API", with_google_fonts=False,
                              redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_STATIC}/favicon.png")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Raises ``PolicyError`` when the policy is invalid: the service won't start."""
    runtime = runtime or Runtime.build(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_deliver_due(runtime.webhook))] if runtime.webhook is not None else []
        if runtime.settings.retention_days:
            tasks.append(asyncio.create_task(_purge_old(runtime)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPIOffline(title="Detour", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                         docs_url=None, redoc_url=None, static_url=DOCS_STATIC,
                         redirect_slashes=False)  # a redirect would be built from the client's Host header
    _api_docs(app)
    app.state.runtime = runtime
    app.add_middleware(ApiCallers, runtime=runtime)  # innermost: a /v1/ call is identified before anything else
    console.configure(app, runtime.settings)
    app.add_middleware(ConsoleSessions, secret_key=runtime.form_tokens.derived("console session"),
                       session_cookie=console.SESSION_COOKIE, max_age=console.ABSOLUTE_SECONDS, path="/admin",
                       same_site="lax", https_only=runtime.settings.public_url.startswith("https://"))
    app.add_middleware(BodySizeLimit, max_bytes=runtime.pipeline.limits.max_upload_bytes, exempt=STREAMED_ROUTES,
                       limit_for=body_limit)
    app.add_middleware(BodyTimeout, seconds=runtime.settings.body_seconds)
    origins = extension_origins(runtime.settings.extension_origins)
    if origins:  # the browser extension calls the API from its own origin; nothing else may from a page
        app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST"],
                           allow_headers=list(EXTENSION_HEADERS), expose_headers=[DECISION_HEADER, "X-Detour-Action"],
                           max_age=CORS_MAX_AGE)
    app.add_middleware(AccessLog)
    app.include_router(inspect.router)
    app.include_router(intercept.router)
    app.include_router(pages.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(admin.scrape)
    app.include_router(console.router)

    @app.exception_handler(console.SignInFirst)
    async def sign_in_first(request: Request, exc: console.SignInFirst) -> Response:
        return RedirectResponse("/admin/login?" + urlencode({"next": request.url.path}), status_code=303)

    @app.exception_handler(pages.StillRecording)
    async def still_recording(request: Request, exc: pages.StillRecording) -> Response:
        if wants_json(request.headers.get("accept", "")) or request.url.path.startswith("/v1/"):
            return error(409, "still_recording", "This decision is still being recorded; try again in a moment.")
        return pages.still_recording(exc.stored)

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> Response:
        route = getattr(request.scope.get("route"), "path", "a request")  # never the path as sent
        log.info("HTTP: a client went away during %s %s", request.method, route)
        return Response(status_code=499)  # nobody reads it; the log line is the point

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return error(401, "unauthenticated", str(exc), {"WWW-Authenticate": 'Bearer realm="detour"'})

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> JSONResponse:
        return error(403, "forbidden", str(exc))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(PolicyError)
    async def invalid_policy(request: Request, exc: PolicyError) -> JSONResponse:  # a draft sent to simulate
        return JSONResponse({"error": {"code": "invalid_policy", "message": str(exc),
                                       "problems": [str(p) for p in exc.problems]}}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error(422, "invalid_request", details)

    @app.exception_handler(StarletteHTTPException)
    async def httperror(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 404 and path.startswith("/d/") and path.count("/") == 2 and \
                not wants_json(request.headers.get("accept", "text/html")):  # a person following a reference
            language = parse_language(request.query_params.get("lang")) or negotiate(
                request.headers.get("accept-language"), runtime.pipeline.default_language)
            contact = runtime.pipeline.policy.document.helpdesk.contact.details(language)
            return HTMLResponse(render_not_found(language, contact), status_code=404,
                                headers={"Cache-Control": "no-store", "Content-Language": language})
        if path.startswith("/admin") and not wants_json(request.headers.get("accept", "text/html")):
            return HTMLResponse(render_console("message", title="Not here", text=str(exc.detail), link="/admin"),
                                status_code=exc.status_code, headers={"Cache-Control": "no-store"})
        code = "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        return error(exc.status_code, code, str(exc.detail), dict(exc.headers) if exc.headers else None)

    return app
