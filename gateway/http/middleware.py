"""ASGI middleware: refuse request bodies over the upload limit before they are buffered.

The inspection routes (``/v1/inspect``, ``/v1/intercept``) are exempt: they read
their bodies as streams, keep at most the upload limit of each file, and let the
policy decide on a file over the limit, as the ICAP channel does.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detectors.errors import DetourError

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
