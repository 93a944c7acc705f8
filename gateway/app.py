"""The FastAPI application: routes, middleware and error answers. ``create_app`` builds it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.blockpage import render_not_found, wants_json
from gateway.errors import BadRequest
from gateway.i18n import negotiate
from gateway.middleware import BodySizeLimit
from gateway.pipeline import Pipeline
from gateway.routes import health, inspect, intercept, pages
from gateway.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Detour inspects outbound uploads, decides by the policy files IT edits, and when it
blocks, answers with the approved alternative routes and a helpdesk message.
"""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


WEBHOOK_RETRY_SECONDS = 30.0


async def _deliver_due(pipeline: Pipeline) -> None:
    """Deliver what the helpdesk webhook's outbox holds, while the app runs."""
    assert pipeline.webhook is not None
    while True:
        await asyncio.sleep(WEBHOOK_RETRY_SECONDS)
        try:
            await run_in_threadpool(pipeline.webhook.deliver_due)
        except Exception:
            log.exception("helpdesk webhook: delivering the outbox failed; trying again later")


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app. Raises ``PolicyError`` when the policy is invalid: the service won't start."""
    settings = settings or get_settings()
    pipeline = pipeline or Pipeline.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retrying = asyncio.create_task(_deliver_due(pipeline)) if pipeline.webhook is not None else None
        try:
            yield
        finally:
            if retrying is not None:
                retrying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retrying

    app = FastAPI(title="Detour", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.pipeline = pipeline
    app.add_middleware(BodySizeLimit, max_bytes=pipeline.limits.max_upload_bytes)
    app.include_router(inspect.router)
    app.include_router(intercept.router)
    app.include_router(pages.router)
    app.include_router(health.router)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_request", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if exc.status_code == 404 and path.startswith("/d/") and path.count("/") == 2 and \
                not wants_json(request.headers.get("accept", "text/html")):  # a person following a reference
            language = negotiate(request.headers.get("accept-language"), pipeline.default_language)
            return HTMLResponse(render_not_found(language), status_code=404,
                                headers={"Cache-Control": "no-store", "Content-Language": language})
        code = "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        return _error(exc.status_code, code, str(exc.detail))

    return app
