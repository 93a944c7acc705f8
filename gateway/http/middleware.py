"""ASGI middleware: refuse request bodies over the upload limit before they are buffered.

The inspection routes (``/v1/inspect``, ``/v1/intercept``) are exempt: they read
their bodies as streams, keep at most the upload limit of each file, and let the
policy decide on a file over the limit, as the ICAP channel does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Literal

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detectors.errors import DetourError

log = logging.getLogger(__name__)

# Multipart framing and form fields around the file itself.
FORM_OVERHEAD = 1024 * 1024
SMALL_BODY_BYTES = 64 * 1024  # a form or JSON of a few fields (a reason, a review request)
POLICY_DRAFT_BYTES = 2 * 1024 * 1024  # a draft policy's YAML files, sent to the simulation


class _TooLarge(DetourError):
    pass


class BodySizeLimit:
    """Bodies over the upload limit (plus a form's framing) are refused with 413, as soon as the declared
    length or the bytes received say so. Paths that take less (``limit_for`` gives their limit: a few fields,
    ``SMALL_BODY_BYTES``; a draft policy, ``POLICY_DRAFT_BYTES``) are held to that."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = (),
                 limit_for: Callable[[str], int | None] = lambda path: None) -> None:
        self.app = app
        self.upload_bytes = max_bytes + FORM_OVERHEAD
        self.exempt = exempt
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"]) or self.upload_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        if limit == self.upload_bytes:
            limit_mb = (limit - FORM_OVERHEAD) / (1024 * 1024)
            message = (f"The upload is larger than the limit of {limit_mb:g} MB. Use one of the approved routes "
                       "for large files, or ask IT.")
        else:
            message = f"This form takes at most {limit // 1024} KB."
        body = json.dumps({"error": {"code": "upload_too_large", "message": message}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _Stalled(DetourError):
    pass


class BodyTimeout:
    """A request whose body stops coming (no piece for ``seconds``) is answered 408, and its connection closed."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = body_done = False

        async def guarded_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body, a receive waits for a disconnect: no deadline for that
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                raise _Stalled from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except _Stalled:
            log.info("HTTP: a request body stalled for %g s; answered 408", self.seconds)
            if not started:
                body = json.dumps({"error": {"code": "request_timeout", "message": "The request body stopped "
                                             "arriving; send it again."}}).encode()
                await send({"type": "http.response.start", "status": 408,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})


access = logging.getLogger("detour.access")
ROUTINE = frozenset({"/healthz", "/readyz", "/metrics", "/v1/admin/metrics"})
KNOWN_SEGMENTS = frozenset({"v1", "d", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics",
                            "static-offline-docs"})


class AccessLog:
    """One line per request, naming the route it reached (``/d/{decision_id}``), never the path or query as
    sent: uvicorn's access log prints the whole URL, and a path or query (``?filename=…``) may name what
    Detour protects, or carry a line break that forges a log line. A path no route takes is shown by its
    first segment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            client = scope.get("client") or ("-", 0)
            route = getattr(scope.get("route"), "path", None) or _unrouted(scope["path"])
            # probes and scrapes come every few seconds from every load balancer and Prometheus: DEBUG, unless
            # they fail
            level = logging.DEBUG if route in ROUTINE and status < 400 else logging.INFO
            access.log(level, '%s "%s %s" %s %.0f ms', client[0], scope["method"], route, status,
                       (time.perf_counter() - started) * 1000)


def _unrouted(path: str) -> str:
    """A path no route takes, by its first segment when that is one of Detour's (``/v1/…``), else ``/…``."""
    first, _, rest = path.lstrip("/").partition("/")
    if first not in KNOWN_SEGMENTS:
        return "/… (no route)"
    return f"/{first}{'/…' if rest else ''} (no route)"


class ConsoleSessions:
    """The console's session cookie, for ``/admin`` only: uploads, pages and the API never pay for it."""

    def __init__(self, app: ASGIApp, secret_key: str, session_cookie: str, max_age: int, path: str,
                 same_site: Literal["lax", "strict", "none"], https_only: bool) -> None:
        self.app = app
        self.sessions = SessionMiddleware(app, secret_key=secret_key, session_cookie=session_cookie, max_age=max_age,
                                          path=path, same_site=same_site, https_only=https_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/admin"):
            await self.sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)
