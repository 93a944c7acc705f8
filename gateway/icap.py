"""ICAP/1.0 server (RFC 3507, REQMOD): Squid and other enterprise proxies hand Detour the uploads they see.

One asyncio server, next to the HTTP API (``detour serve --icap-port``). Per
connection, requests are read one after another (persistent connections); the
inspection itself runs in a worker thread, so many connections are served at
once. The answers:

- no upload (GET, an empty body): ``204`` at once, from the headers or the preview;
- allowed: ``204`` where the client allows it (``Allow: 204``, or during the
  preview), otherwise the request echoed back unmodified (``200``);
- blocked: an encapsulated ``HTTP/1.1 403`` response: the block page for
  browsers, the decision JSON for API clients, always with ``X-Detour-Decision``;
- malformed ICAP: ``400`` and the connection is closed; never a crash.

When an inspection fails or runs out of time, the policy's ``on_error`` action
for the destination decides (default: block unsanctioned destinations).
Headers such as ``Proxy-Authorization`` are never logged or stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import logging
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import IO

from alternatives.catalogue import Language
from gateway.intercept import blocked_response, decide_request
from gateway.pipeline import Pipeline, UploadRequest
from gateway.report import Report
from gateway.uploads import BodyCollector, HttpRequestHead, Upload

log = logging.getLogger(__name__)

SERVICE = "reqmod"
PREVIEW_BYTES = 4096
MAX_CONNECTIONS = 200
OPTIONS_TTL = 300
MAX_LINE = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
IDLE_SECONDS = 120.0  # a persistent connection that sends nothing for this long is closed
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a body kept for an echo goes to a temporary file beyond this
ECHO_CHUNK = 256 * 1024


class IcapError(Exception):
    """A malformed ICAP request: answered with ``status`` and the connection is closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class IcapRequest:
    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class IcapConfig:
    user_header: str = "X-Client-Username"
    user_header_base64: bool = False  # Squid: icap_client_username_encode on
    timeout_seconds: float = 150.0
    public_url: str = ""  # Detour's address for people: route links on block pages are tracked there


class IcapServer:
    """REQMOD service at ``icap://host:port/reqmod``; OPTIONS on the same URI."""

    def __init__(self, pipeline: Pipeline, config: IcapConfig | None = None) -> None:
        self.pipeline = pipeline
        self.config = config or IcapConfig()
        self.connections = 0
        self._timer = concurrent.futures.ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="icap")

    @property
    def istag(self) -> str:
        """Changes whenever the policy does, so proxies drop cached OPTIONS and verdicts."""
        return f'"detour-{self.pipeline.policy.digest[:24]}"'

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=MAX_LINE)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away mid-request: nothing to answer
        except Exception:
            log.exception("ICAP connection failed")
        finally:
            self.connections -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            request = await asyncio.wait_for(_read_request(reader), IDLE_SECONDS)
        except IcapError as exc:
            writer.write(self._status(exc.status, exc.reason, close=True))
            await writer.drain()
            return False
        if request is None:
            return False
        try:
            if request.method == "OPTIONS":
                writer.write(self._options())
            elif request.method == "REQMOD":
                await self._reqmod(request, reader, writer)
            else:
                writer.write(self._status(501, "Method Not Implemented", close=True))
                await writer.drain()
                return False
        except IcapError as exc:
            writer.write(self._status(exc.status, exc.reason, close=True))
            await writer.drain()
            return False
        await writer.drain()
        return request.header("connection").lower() != "close"

    # --- answers ----------------------------------------------------------------------------

    def _head(self, status: int, reason: str, extra: list[tuple[str, str]]) -> bytes:
        lines = [f"ICAP/1.0 {status} {reason}", f"ISTag: {self.istag}", f"Date: {formatdate(usegmt=True)}",
                 "Server: Detour", *(f"{k}: {v}" for k, v in extra)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _status(self, status: int, reason: str, close: bool = False) -> bytes:
        extra = [("Encapsulated", "null-body=0")]
        if close:
            extra.append(("Connection", "close"))
        return self._head(status, reason, extra)

    def _options(self) -> bytes:
        return self._head(200, "OK", [
            ("Methods", "REQMOD"),
            ("Service", "Detour DLP upload gateway"),
            ("Max-Connections", str(MAX_CONNECTIONS)),
            ("Options-TTL", str(OPTIONS_TTL)),
            ("Allow", "204"),
            ("Preview", str(PREVIEW_BYTES)),
            ("Transfer-Preview", "*"),
            ("Encapsulated", "null-body=0"),
        ])

    def _no_content(self) -> bytes:
        return self._head(204, "No Content", [("Encapsulated", "null-body=0")])

    def _echo(self, http_head: bytes) -> bytes:
        """The request unmodified, without a body: for clients that did not allow 204."""
        return self._head(200, "OK", [("Encapsulated", f"req-hdr=0, null-body={len(http_head)}")]) + http_head

    async def _echo_body(self, writer: asyncio.StreamWriter, http_head: bytes, body: IO[bytes]) -> None:
        """The request unmodified, streamed back from its spool: Squid sends large bodies without
        ``Allow: 204``, so they come back whole, however large."""
        writer.write(self._head(200, "OK", [("Encapsulated", f"req-hdr=0, req-body={len(http_head)}")]) + http_head)
        body.seek(0)
        while chunk := body.read(ECHO_CHUNK):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    def _blocked(self, report: Report, accept: str) -> bytes:
        body, headers = blocked_response(report, accept, self.config.public_url)
        http = ("HTTP/1.1 403 Forbidden\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                + "Connection: close\r\n\r\n").encode("latin-1")
        return self._head(200, "OK", [("Encapsulated", f"res-hdr=0, res-body={len(http)}")]) + http + _chunked(body)

    # --- REQMOD -------------------------------------------------------------------------------

    async def _reqmod(self, request: IcapRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sections = _encapsulated(request.header("encapsulated"))
        header_length = sections.get("req-body", sections.get("null-body"))
        if "req-hdr" not in sections or header_length is None:
            raise IcapError(400, "Bad Request")
        head_size = header_length - sections["req-hdr"]
        if not 0 < head_size <= MAX_HEADER_BYTES:  # never read an unbounded "header" into memory
            raise IcapError(400, "Bad Request")
        raw_head = await reader.readexactly(head_size)
        try:
            head = HttpRequestHead.parse(raw_head.rstrip(b"\r\n"))
        except ValueError:
            raise IcapError(400, "Bad Request") from None
        allow_204 = "204" in request.header("allow")
        if "req-body" not in sections:  # no body, no upload: a GET, a CONNECT (ssl-bump)
            writer.write(self._no_content() if allow_204 else self._echo(raw_head))
            return
        limit = self.pipeline.limits.max_upload_bytes
        collector = BodyCollector(head, limit)
        # The body as sent, for an echo; only when 204 is not allowed. Spooled to disk when large.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) if not allow_204 else nullcontext() as kept:
            preview = request.header("preview")
            try:
                complete = await _read_chunks(reader, collector, kept)
                in_preview = bool(preview)
                if preview and not complete:  # the preview ended; the rest follows after 100 Continue
                    if collector.received == 0 and head.method in ("GET", "HEAD", "OPTIONS"):
                        writer.write(self._no_content())  # 204 in answer to a preview is always allowed
                        return
                    writer.write(b"ICAP/1.0 100 Continue\r\n\r\n")
                    await writer.drain()
                    await _read_chunks(reader, collector, kept)
                    in_preview = False
            except ValueError:
                raise IcapError(400, "Bad Request") from None
            try:
                uploads = collector.finish()
            except Exception:  # a form that does not parse: the policy decides on what can't be read
                log.info("a form body did not parse")
                uploads = [Upload("form (unreadable)", bytearray(b"\x00" * 16))]
            blocked = await self._decide(head, request, uploads)
            if blocked is not None:
                writer.write(self._blocked(blocked, head.header("Accept")))
            elif allow_204 or in_preview:
                writer.write(self._no_content())
            else:
                assert kept is not None
                await self._echo_body(writer, raw_head, kept)

    async def _decide(self, head: HttpRequestHead, request: IcapRequest, uploads: list[Upload]) -> Report | None:
        """Inspect in a worker thread, so the event loop keeps serving other connections."""
        loop = asyncio.get_running_loop()
        client_ip = request.header("x-client-ip")[:64] or None
        warnings_stop = bool(self.config.public_url) and self.pipeline.store is not None
        return await loop.run_in_executor(None, decide_request, self._inspect, head, uploads, self._user(request),
                                          "icap", client_ip, warnings_stop)

    def _inspect(self, blob: bytes, request: UploadRequest, language: Language) -> Report:
        """The pipeline, with a time limit; a timeout or failure is decided by the policy's on_error."""
        future = self._timer.submit(self.pipeline.inspect, blob, request, language)
        try:
            return future.result(timeout=self.config.timeout_seconds)
        except Exception as exc:  # never a silent pass
            log.warning("inspection failed (%s); deciding by the policy's on_error", type(exc).__name__)
            what = "timeout" if isinstance(exc, concurrent.futures.TimeoutError) else "error"
            return self.pipeline.failed(request, blob, language, what)

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


# --- wire format ----------------------------------------------------------------------------


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise IcapError(400, "Bad Request") from None
    return line.rstrip(b"\r\n")


async def _read_request(reader: asyncio.StreamReader) -> IcapRequest | None:
    """The request line and ICAP headers; None at a clean end of the connection."""
    try:
        first = await _read_line(reader)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise IcapError(400, "Bad Request") from None
        return None
    while first == b"":  # stray line breaks between requests
        first = await _read_line(reader)
    parts = first.decode("latin-1").split(" ")
    if len(parts) != 3 or parts[2] != "ICAP/1.0" or not parts[1].startswith("icap://"):
        raise IcapError(400, "Bad Request")
    request = IcapRequest(parts[0].upper(), parts[1])
    total = 0
    while True:
        line = await _read_line(reader)
        if not line:
            break
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise IcapError(400, "Bad Request")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise IcapError(400, "Bad Request")
        request.headers.setdefault(name.strip().lower(), value.strip())
    path = request.uri.split("://", 1)[1].partition("/")[2].partition("?")[0]
    if path not in (SERVICE, "") and request.method in ("REQMOD", "OPTIONS"):
        raise IcapError(404, "ICAP Service Not Found")
    return request


def _encapsulated(value: str) -> dict[str, int]:
    sections: dict[str, int] = {}
    for item in value.split(","):
        name, sep, offset = item.strip().partition("=")
        if not sep or not offset.strip().isdigit():
            raise IcapError(400, "Bad Request")
        sections[name.strip().lower()] = int(offset)
    return sections


async def _read_chunks(reader: asyncio.StreamReader, collector: BodyCollector, kept: IO[bytes] | None) -> bool:
    """Read chunks up to the zero chunk; True when it says ``ieof`` (the preview held the whole body)."""
    while True:
        size_line = (await _read_line(reader)).decode("latin-1")
        size_text, _, extension = size_line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise ValueError("bad chunk size") from None
        if size < 0:
            raise ValueError("bad chunk size")
        if size == 0:
            while await _read_line(reader):  # trailers, up to the blank line
                pass
            return "ieof" in extension
        data = await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk not terminated")
        collector.feed(data)
        if kept is not None:
            kept.write(data)


def _chunked(body: bytes) -> bytes:
    """One chunk and the last chunk: for answers Detour writes itself (block pages)."""
    return (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
