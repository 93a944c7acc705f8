"""ICAP/1.0 server (RFC 3507, REQMOD): Squid and other enterprise proxies hand Detour the uploads they see.

One asyncio server, next to the HTTP API (``detour serve --icap-port``). Per
connection, requests are read one after another (persistent connections); the
inspection runs in the pipeline's pool, so many connections are served at once.
The answers (formatted by ``icap.protocol``):

- no upload (GET, an empty body): ``204`` at once, from the headers or the preview;
- allowed: ``204`` where the client allows it (``Allow: 204``, or during the
  preview), otherwise the request echoed back unmodified (``200``);
- stopped: an encapsulated ``HTTP/1.1 403`` response: the block page for
  browsers, the decision JSON for API clients, always with ``X-Detour-Decision``;
- malformed ICAP: ``400`` and the connection is closed; never a crash;
- more connections than advertised (``Max-Connections``): ``503`` and closed;
- a connection from an address not in ``DETOUR_ICAP_CLIENTS`` (whoever speaks
  ICAP names the user and the address of an upload): ``403`` and closed, one log
  line a minute;
- a client that sends nothing between requests (``idle_seconds``), stalls in a
  request's head (``header_seconds``) or in its body, also after ``100
  Continue`` (``body_seconds``): ``408`` and closed; one INFO line each.

The pipeline decides everything else, timeouts and failures included (by the
policy's ``on_error``). Headers such as ``Proxy-Authorization`` are never logged
or stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import socket
import tempfile
import time
from collections.abc import Awaitable
from contextlib import nullcontext
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import IO, TypeVar

from gateway.errors import ProtocolError
from gateway.icap import protocol
from gateway.icap.protocol import IcapRequest, bad_request
from gateway.pipeline import Pipeline
from gateway.policy.loader import Policy
from gateway.proxy.answer import blocked_response
from gateway.proxy.body import BodyReader, HttpRequestHead, request_file_name
from gateway.proxy.decide import decide_request
from gateway.records import Channel, Envelope
from gateway.render.forms import FormTokens
from gateway.render.report import Report
from gateway.settings import LISTEN_BACKLOG, Settings, address_in, networks, valid_address
from gateway.staff.redaction import offered

log = logging.getLogger(__name__)
T = TypeVar("T")

SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a body kept for an echo goes to a temporary file beyond this
ECHO_CHUNK = 256 * 1024
READ_PIECE = 64 * 1024  # a chunk of the body is read at most this much at a time
REFUSED_LOG_SECONDS = 60.0  # connections from addresses it does not serve: one log line a minute at most


@dataclass
class IcapConfig:
    user_header: str = "X-Client-Username"
    user_header_base64: bool = False  # Squid: icap_client_username_encode on
    public_url: str = ""  # Detour's address for people: route links on block pages are tracked there
    form_tokens: FormTokens | None = None  # the block page's justification form carries the decision's token
    max_connections: int = 200  # advertised as Max-Connections, and held to
    idle_seconds: float = 60.0  # between requests on a persistent connection
    header_seconds: float = 30.0  # from a request's first line to the end of its encapsulated HTTP head
    body_seconds: float = 60.0  # the longest wait for the next piece of a body
    clients: tuple[IPv4Network | IPv6Network, ...] = networks("127.0.0.0/8,::1")  # the proxies it serves

    @classmethod
    def of(cls, settings: Settings, form_tokens: FormTokens | None = None) -> IcapConfig:
        return cls(settings.icap_user_header, settings.icap_user_base64, settings.public_url, form_tokens,
                   settings.icap_max_connections, settings.idle_seconds, settings.header_seconds,
                   settings.body_seconds, networks(settings.icap_clients))


class _Stalled(Exception):  # noqa: N818 - a control-flow signal: the client stopped sending
    pass

def istag(policy: Policy) -> str:
    """The service's ISTag: changes whenever the policy does, so proxies drop cached OPTIONS and verdicts."""
    return f'"detour-{policy.digest[:24]}"'


class IcapServer:
    """REQMOD service at ``icap://host:port/reqmod``; OPTIONS on the same URI."""

    def __init__(self, pipeline: Pipeline, config: IcapConfig | None = None) -> None:
        self.pipeline = pipeline
        self.config = config or IcapConfig()
        self.open = 0  # connections being served
        self._idle: set[asyncio.StreamWriter] = set()  # connections waiting for their next request
        self._draining = False
        self._refused = 0  # connections from addresses it does not serve, since the last line about them
        self._refused_logged = -REFUSED_LOG_SECONDS

    @property
    def istag(self) -> str:
        """Changes whenever the policy does, so proxies drop cached OPTIONS and verdicts."""
        return istag(self.pipeline.policy)

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=protocol.MAX_LINE)

    async def start_on(self, listener: socket.socket) -> asyncio.Server:
        """Serve on a socket already listening (``detour serve``'s, shared by its workers)."""
        # asyncio listens again with its own backlog (100) unless told: keep the one the socket was made with
        return await asyncio.start_server(self.handle, sock=listener, limit=protocol.MAX_LINE,
                                          backlog=LISTEN_BACKLOG)

    async def drain(self, server: asyncio.Server, seconds: float) -> None:
        """Stop: accept no more connections, close those waiting for a request (the proxy opens new ones to
        another worker or replica), let those in a request finish it (at most ``seconds``), then close."""
        server.close()
        self._draining = True
        for waiting in list(self._idle):
            waiting.close()  # its read ends as at the client's own close: the handler closes it quietly
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.open:
            log.warning("ICAP: %d request(s) still running after %g s; closed", self.open, seconds)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not address_in(peer[0] if peer else None, self.config.clients):
            self._refuse(peer[0] if peer else "?")
            await self._close(writer, protocol.status(403, "Forbidden", self.istag, close=True))
            return
        if self.open >= self.config.max_connections:  # what OPTIONS promised: no more than this at once
            log.info("ICAP: more than %d connections; one refused (503)", self.config.max_connections)
            await self._close(writer, protocol.status(503, "Service Unavailable", self.istag, close=True))
            return
        self.open += 1
        connections = self.pipeline.metrics.connection("icap")
        connections.inc()
        answer = b""
        try:
            while not self._draining and await self._one(reader, writer):
                pass
        except _Stalled as stalled:
            log.info("ICAP: a client stopped sending (%s); connection closed", stalled)
            answer = protocol.status(408, "Request Timeout", self.istag, close=True)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("ICAP: a client went away mid-request")
        except Exception:
            log.exception("ICAP connection failed")
        finally:
            self.open -= 1
            connections.dec()
            await self._close(writer, answer)

    def _refuse(self, address: str) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged >= REFUSED_LOG_SECONDS:
            log.warning("ICAP: refused %d connection(s) from addresses not in DETOUR_ICAP_CLIENTS (last: %s)",
                        self._refused, address)
            self._refused, self._refused_logged = 0, now

    @staticmethod
    async def _close(writer: asyncio.StreamWriter, last: bytes = b"") -> None:
        try:
            if last:
                writer.write(last)
                await asyncio.wait_for(writer.drain(), 5)
        except (ConnectionError, OSError, TimeoutError):
            pass
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            self._idle.add(writer)  # waiting for the next request: a drain closes it now
            try:
                request = await self._read_request(reader)
            finally:
                self._idle.discard(writer)
            if request is None:
                return False
            if request.method == "OPTIONS":
                writer.write(protocol.options(self.istag, self.config.max_connections))
            elif request.method == "REQMOD":
                await self._reqmod(request, reader, writer)
            else:
                raise ProtocolError(501, "Method Not Implemented")
        except ProtocolError as exc:
            writer.write(protocol.status(exc.status, exc.reason, self.istag, close=True))
            await writer.drain()
            return False
        await writer.drain()
        return request.header("connection").lower() != "close"

    async def _reqmod(self, request: IcapRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sections = protocol.parse_encapsulated(request.header("encapsulated"))
        raw_head = await _within(reader.readexactly(protocol.http_head_size(sections)), self.config.header_seconds,
                                 "the encapsulated HTTP head")
        try:
            head = HttpRequestHead.parse(raw_head.rstrip(b"\r\n"))
        except ValueError:
            raise bad_request() from None
        allow_204 = "204" in request.header("allow")
        if "req-body" not in sections:  # no body, no upload: a GET, a CONNECT (ssl-bump)
            writer.write(protocol.no_content(self.istag) if allow_204 else protocol.echo(self.istag, raw_head))
            return
        body_reader = BodyReader(head.header("Content-Type"), self.pipeline.limits.max_upload_bytes,
                                 request_file_name(head))
        # The body as sent, for an echo; only when 204 is not allowed. Spooled to disk when large.
        with body_reader, tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) if not allow_204 \
                else nullcontext() as kept:
            preview = request.header("preview")
            seconds = self.config.body_seconds
            complete = await _read_chunks(reader, body_reader, kept, seconds)
            in_preview = bool(preview)
            if preview and not complete:  # the preview ended; the rest follows after 100 Continue
                if body_reader.received == 0 and head.method in ("GET", "HEAD", "OPTIONS"):
                    writer.write(protocol.no_content(self.istag))  # 204 in answer to a preview is always allowed
                    return
                writer.write(protocol.CONTINUE)
                await writer.drain()
                await _read_chunks(reader, body_reader, kept, seconds)
                in_preview = False
            sender = Envelope("", user=self._user(request), channel=Channel.ICAP,
                              client_ip=valid_address(request.header("x-client-ip")))
            stopping = await decide_request(self.pipeline, head, body_reader.finish(), sender,
                                            warnings_stop=bool(self.config.public_url))
            if stopping is not None:
                writer.write(self._blocked(stopping, head.header("Accept")))
            elif allow_204 or in_preview:
                writer.write(protocol.no_content(self.istag))
            else:
                assert kept is not None
                await self._echo_body(writer, raw_head, kept)

    def _blocked(self, report: Report, accept: str) -> bytes:
        tokens = self.config.form_tokens
        body, headers = blocked_response(report, accept, self.config.public_url,
                                         tokens.issue(report.decision_id) if tokens is not None else "",
                                         offered(self.pipeline, report))
        return protocol.http_response(self.istag, "HTTP/1.1 403 Forbidden", headers, body)

    async def _echo_body(self, writer: asyncio.StreamWriter, http_head: bytes, body: IO[bytes]) -> None:
        """The request unmodified, streamed back from its spool: Squid sends large bodies without
        ``Allow: 204``, so they come back whole, however large."""
        writer.write(protocol.echo_start(self.istag, http_head))
        body.seek(0)
        while data := body.read(ECHO_CHUNK):
            writer.write(protocol.chunk(data))
            await writer.drain()
        writer.write(protocol.LAST_CHUNK)

    async def _read_request(self, reader: asyncio.StreamReader) -> IcapRequest | None:
        """The request line and ICAP headers; None at a clean end (or a quiet idle end) of the connection."""
        try:
            first = await asyncio.wait_for(_read_line(reader), self.config.idle_seconds)
            while first == b"":  # stray line breaks between requests
                first = await asyncio.wait_for(_read_line(reader), self.config.idle_seconds)
        except TimeoutError:
            return None  # idle: a persistent connection the client no longer uses
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise bad_request() from None
            return None
        request = protocol.parse_request_line(first)
        return await _within(_read_headers(reader, request), self.config.header_seconds, "ICAP headers")

    def _user(self, request: IcapRequest) -> str | None:
        value = request.header(self.config.user_header.lower())
        if not value:
            return None
        if self.config.user_header_base64:
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return None
        return value[:256]


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise bad_request() from None
    return line.rstrip(b"\r\n")


async def _within(step: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        raise _Stalled(f"no {what} within {seconds:g} s") from None


async def _read_headers(reader: asyncio.StreamReader, request: IcapRequest) -> IcapRequest:
    total = 0
    while line := await _read_line(reader):
        total += len(line)
        if total > protocol.MAX_HEADER_BYTES:
            raise bad_request()
        request.add_header(line)
    request.check_service()
    return request


async def _read_chunks(reader: asyncio.StreamReader, body: BodyReader, kept: IO[bytes] | None,
                       seconds: float) -> bool:
    """Read chunks up to the zero chunk; True when it says ``ieof`` (the preview held the whole body).
    Each read must bring something within ``seconds``: a client that stalls is closed, not waited for."""
    while True:
        size, ieof = protocol.parse_chunk_size(await _within(_read_line(reader), seconds, "chunk"))
        if size == 0:
            while await _within(_read_line(reader), seconds, "trailer"):  # trailers, up to the blank line
                pass
            return ieof
        while size:  # in pieces, whatever size the client declares: memory stays bounded
            data = await _within(reader.read(min(size, READ_PIECE)), seconds, "body data")
            if not data:
                raise asyncio.IncompleteReadError(b"", size)
            size -= len(data)
            body.feed(data)
            if kept is not None:
                kept.write(data)
        if await _within(reader.readexactly(2), seconds, "chunk end") != b"\r\n":
            raise bad_request()
