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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detectors.errors import DetourError

log = logging.getLogger(__name__)

# Multipart framing and form fields around the file itself.
FORM_OVERHEAD = 1024 * 1024


class _TooLarge(DetourError):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes + FORM_OVERHEAD
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
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
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        limit_mb = (self.max_bytes - FORM_OVERHEAD) / (1024 * 1024)
        body = json.dumps(
            {"error": {"code": "upload_too_large",
                       "message": f"The upload is larger than the limit of {limit_mb:g} MB. "
                                  "Use one of the approved routes for large files, or ask IT."}}
        ).encode()
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


class AccessLog:
    """One line per request, without its query string: uvicorn's access log prints the whole URL, and a
    query (``?filename=…&destination=…``) may name what Detour protects."""

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
            access.info('%s "%s %s" %s %.0f ms', client[0], scope["method"], scope["path"], status,
                        (time.perf_counter() - started) * 1000)
