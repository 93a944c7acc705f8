"""ICAP/1.0 (RFC 3507) on the wire, pure: parse request lines, headers and chunk sizes; format answers.

No sockets here: ``icap.server`` reads and writes, this module says what the
bytes mean. A malformed request raises ``ProtocolError`` with the status to
answer (400, 404); the server answers it and closes the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import formatdate

from gateway.errors import ProtocolError

SERVICE = "reqmod"
PREVIEW_BYTES = 4096
OPTIONS_TTL = 300
MAX_LINE = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
CONTINUE = b"ICAP/1.0 100 Continue\r\n\r\n"
SINGLE_HEADERS = frozenset({"encapsulated", "preview", "allow", "host"})  # twice: which one to believe? neither


def bad_request() -> ProtocolError:
    return ProtocolError(400, "Bad Request")


@dataclass
class IcapRequest:
    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def service(self) -> str:
        return self.uri.split("://", 1)[1].partition("/")[2].partition("?")[0]

    def add_header(self, line: bytes) -> None:
        name, sep, value = line.decode("latin-1").partition(":")
        key = name.strip().lower()
        if not sep or not key or name != name.strip() or (key in SINGLE_HEADERS and key in self.headers):
            raise bad_request()
        if key == "preview" and not _NUMBER.fullmatch(value.strip()):
            raise bad_request()
        self.headers.setdefault(key, value.strip())

    def check_service(self) -> None:
        if self.service not in (SERVICE, "") and self.method in ("REQMOD", "OPTIONS"):
            raise ProtocolError(404, "ICAP Service Not Found")


def parse_request_line(line: bytes) -> IcapRequest:
    """``METHOD icap://host/service ICAP/1.0``."""
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3 or parts[2] != "ICAP/1.0" or not parts[1].startswith("icap://"):
        raise bad_request()
    return IcapRequest(parts[0].upper(), parts[1])


def parse_encapsulated(value: str) -> dict[str, int]:
    """``req-hdr=0, req-body=412`` → section → offset."""
    sections: dict[str, int] = {}
    for item in value.split(","):
        name, sep, offset = item.strip().partition("=")
        if not sep or not _NUMBER.fullmatch(offset.strip()):
            raise bad_request()
        sections[name.strip().lower()] = int(offset)
    return sections


def http_head_size(sections: dict[str, int]) -> int:
    """The size of the encapsulated HTTP request head, bounded: never an unbounded read."""
    header_end = sections.get("req-body", sections.get("null-body"))
    if "req-hdr" not in sections or header_end is None:
        raise bad_request()
    size = header_end - sections["req-hdr"]
    if not 0 < size <= MAX_HEADER_BYTES:
        raise bad_request()
    return size


_CHUNK_SIZE = re.compile(r"[0-9A-Fa-f]{1,16}")
_NUMBER = re.compile(r"[0-9]{1,12}")  # ASCII digits only (str.isdigit takes '²' too)


def parse_chunk_size(line: bytes) -> tuple[int, bool]:
    """A chunk-size line (RFC 9112 §7.1: hex digits only, then optional extensions): the size, and whether it
    says ``ieof`` (the preview held the whole body). ``0x5``, ``+5``, ``1_0`` are not sizes."""
    size_text, _, extension = line.decode("latin-1").partition(";")
    size_text = size_text.rstrip(" \t")
    if not _CHUNK_SIZE.fullmatch(size_text):
        raise bad_request()
    return int(size_text, 16), extension.strip(" \t") == "ieof"


def head(status: int, reason: str, istag: str, extra: list[tuple[str, str]]) -> bytes:
    lines = [f"ICAP/1.0 {status} {reason}", f"ISTag: {istag}", f"Date: {formatdate(usegmt=True)}",
             "Server: Detour", *(f"{k}: {v}" for k, v in extra)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def status(code: int, reason: str, istag: str, close: bool = False) -> bytes:
    extra = [("Encapsulated", "null-body=0")]
    if close:
        extra.append(("Connection", "close"))
    return head(code, reason, istag, extra)


def options(istag: str, max_connections: int) -> bytes:
    return head(200, "OK", istag, [
        ("Methods", "REQMOD"),
        ("Service", "Detour DLP upload gateway"),
        ("Max-Connections", str(max_connections)),
        ("Options-TTL", str(OPTIONS_TTL)),
        ("Allow", "204"),
        ("Preview", str(PREVIEW_BYTES)),
        ("Transfer-Preview", "*"),
        ("Encapsulated", "null-body=0"),
    ])


def no_content(istag: str) -> bytes:
    return head(204, "No Content", istag, [("Encapsulated", "null-body=0")])


def echo(istag: str, http_head: bytes) -> bytes:
    """The request unmodified, without a body: for clients that did not allow 204."""
    return head(200, "OK", istag, [("Encapsulated", f"req-hdr=0, null-body={len(http_head)}")]) + http_head


def echo_start(istag: str, http_head: bytes) -> bytes:
    """The start of the request echoed with its body; the body follows in chunks."""
    return head(200, "OK", istag, [("Encapsulated", f"req-hdr=0, req-body={len(http_head)}")]) + http_head


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"


def http_response(istag: str, status_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """An encapsulated HTTP response that replaces the request (a block page): head, then the body."""
    http = (f"{status_line}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
            + "Connection: close\r\n\r\n").encode("latin-1")
    encoded = (chunk(body) if body else b"") + LAST_CHUNK
    return head(200, "OK", istag, [("Encapsulated", f"res-hdr=0, res-body={len(http)}")]) + http + encoded
