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
- malformed ICAP: ``400`` and the connection is closed; never a crash.

The pipeline decides everything else, timeouts and failures included (by the
policy's ``on_error``). Headers such as ``Proxy-Authorization`` are never logged
or stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from typing import IO

from gateway.errors import ProtocolError
from gateway.icap import protocol
from gateway.icap.protocol import IcapRequest, bad_request
from gateway.pipeline import Pipeline
from gateway.proxy.answer import blocked_response
from gateway.proxy.body import BodyReader, HttpRequestHead, request_file_name
from gateway.proxy.decide import decide_request
from gateway.records import Channel
from gateway.render.forms import FormTokens
from gateway.render.report import Report

log = logging.getLogger(__name__)

IDLE_SECONDS = 120.0  # a persistent connection that sends nothing for this long is closed
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a body kept for an echo goes to a temporary file beyond this
ECHO_CHUNK = 256 * 1024
READ_PIECE = 64 * 1024  # a chunk of the body is read at most this much at a time


@dataclass
class IcapConfig:
    user_header: str = "X-Client-Username"
    user_header_base64: bool = False  # Squid: icap_client_username_encode on
    public_url: str = ""  # Detour's address for people: route links on block pages are tracked there
    form_tokens: FormTokens | None = None  # the block page's justification form carries the decision's token


class IcapServer:
    """REQMOD service at ``icap://host:port/reqmod``; OPTIONS on the same URI."""

    def __init__(self, pipeline: Pipeline, config: IcapConfig | None = None) -> None:
        self.pipeline = pipeline
        self.config = config or IcapConfig()

    @property
    def istag(self) -> str:
        """Changes whenever the policy does, so proxies drop cached OPTIONS and verdicts."""
        return f'"detour-{self.pipeline.policy.digest[:24]}"'

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=protocol.MAX_LINE)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away mid-request: nothing to answer
        except Exception:
            log.exception("ICAP connection failed")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            request = await asyncio.wait_for(_read_request(reader), IDLE_SECONDS)
            if request is None:
                return False
            if request.method == "OPTIONS":
                writer.write(protocol.options(self.istag))
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
        raw_head = await reader.readexactly(protocol.http_head_size(sections))
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
            complete = await _read_chunks(reader, body_reader, kept)
            in_preview = bool(preview)
            if preview and not complete:  # the preview ended; the rest follows after 100 Continue
                if body_reader.received == 0 and head.method in ("GET", "HEAD", "OPTIONS"):
                    writer.write(protocol.no_content(self.istag))  # 204 in answer to a preview is always allowed
                    return
                writer.write(protocol.CONTINUE)
                await writer.drain()
                await _read_chunks(reader, body_reader, kept)
                in_preview = False
            stopping = await decide_request(self.pipeline, head, body_reader.finish(), Channel.ICAP,
                                            self._user(request), request.header("x-client-ip")[:64] or None,
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
                                         tokens.issue(report.decision_id) if tokens is not None else "")
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


async def _read_request(reader: asyncio.StreamReader) -> IcapRequest | None:
    """The request line and ICAP headers; None at a clean end of the connection."""
    try:
        first = await _read_line(reader)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise bad_request() from None
        return None
    while first == b"":  # stray line breaks between requests
        first = await _read_line(reader)
    request = protocol.parse_request_line(first)
    total = 0
    while line := await _read_line(reader):
        total += len(line)
        if total > protocol.MAX_HEADER_BYTES:
            raise bad_request()
        request.add_header(line)
    request.check_service()
    return request


async def _read_chunks(reader: asyncio.StreamReader, body: BodyReader, kept: IO[bytes] | None) -> bool:
    """Read chunks up to the zero chunk; True when it says ``ieof`` (the preview held the whole body)."""
    while True:
        size, ieof = protocol.parse_chunk_size(await _read_line(reader))
        if size == 0:
            while await _read_line(reader):  # trailers, up to the blank line
                pass
            return ieof
        while size:  # in pieces, whatever size the client declares: memory stays bounded
            data = await reader.readexactly(min(size, READ_PIECE))
            size -= len(data)
            body.feed(data)
            if kept is not None:
                kept.write(data)
        if await reader.readexactly(2) != b"\r\n":
            raise bad_request()
