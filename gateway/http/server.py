"""The HTTP server's guards, around uvicorn: a deadline for a request's head, a rate-limited word when the
process runs out of descriptors.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and refuses
connections beyond a limit (``limit_concurrency``), but waits for a request's
head for ever: a client that connects and sends nothing, or trickles a header a
byte at a time, holds a connection and a descriptor. ``GuardedH11Protocol``
closes such a connection after ``header_seconds``. The body of a request is
guarded by ``http.middleware.BodyTimeout``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from prometheus_client import Gauge
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's head (``header_seconds``)."""

    header_seconds = 30.0  # set by ``detour serve`` from the settings
    open_gauge: Gauge | None = None  # open connections (the metrics), set by ``detour serve``

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if self.open_gauge is not None:
            self.open_gauge.inc()
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and not self._in_request():  # the first bytes of the next request
            self._arm()
        super().data_received(data)
        if self._in_request():  # the head is complete: the body has a guard of its own
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.open_gauge is not None:
            self.open_gauge.dec()
        super().connection_lost(exc)

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.header_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_request() and not self.transport.is_closing():
            log.info("HTTP: no request head within %g s; connection closed", self.header_seconds)
            self.transport.close()


class ResourceWarnings:
    """An event loop exception handler that says once a minute, not once a connection, that the process ran
    out of descriptors (asyncio then pauses accepting for a second by itself)."""

    PERIOD = 60.0
    EXHAUSTED = ("out of system resource", "Too many open files")

    def __init__(self) -> None:
        self._since = 0.0
        self._count = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "")) + " " + str(context.get("exception", ""))
        if not any(marker in message for marker in self.EXHAUSTED):
            loop.default_exception_handler(context)
            return
        self._count += 1
        now = time.monotonic()
        if now - self._since >= self.PERIOD:
            log.error("out of file descriptors: new connections wait (%d refusals in the last minute); raise the "
                      "process's open-files limit or lower DETOUR_HTTP_MAX_CONNECTIONS / DETOUR_ICAP_MAX_CONNECTIONS",
                      self._count)
            self._since, self._count = now, 0
