"""What an intercepted HTTP request uploads: files of a multipart form, a urlencoded form, or a raw body.

Used by the proxy adapters (ICAP, mitmproxy), which see whole HTTP requests
rather than Detour's own API calls. The multipart parser (python-multipart) is
fed as the body arrives, so a form is taken apart while it streams in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from python_multipart import MultipartParser

MAX_FORM_FIELDS = 1000
MAX_FIELD_BYTES = 1_000_000


@dataclass
class HttpRequestHead:
    """The request line and headers of an encapsulated HTTP request."""

    method: str
    target: str
    headers: list[tuple[str, str]]

    def header(self, name: str, default: str = "") -> str:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), default)

    @property
    def url(self) -> str:
        """The absolute URL: proxies see absolute targets; origin-form targets get the Host header."""
        if "://" in self.target:
            return self.target
        host = self.header("Host")
        return f"http://{host}{self.target}" if host else self.target

    @classmethod
    def parse(cls, raw: bytes) -> HttpRequestHead:
        """Parse ``METHOD target HTTP/1.x`` and header lines; raises ValueError when malformed."""
        text = raw.decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError("the encapsulated HTTP request line is malformed")
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ValueError("an encapsulated HTTP header is malformed")
            headers.append((name, value.strip()))
        return cls(parts[0].upper(), parts[1], headers)


@dataclass
class Upload:
    name: str
    data: bytearray = field(default_factory=bytearray)


class BodyCollector:
    """Collects the uploads of one request body as it arrives; caps what it keeps at ``limit`` bytes per file.

    A file larger than the limit is kept as its first ``limit + 1`` bytes, so the pipeline still
    sees that it is too large and decides by the policy.
    """

    def __init__(self, head: HttpRequestHead, limit: int) -> None:
        self.head = head
        self.limit = limit
        self.uploads: list[Upload] = []
        self.form_fields: list[tuple[str, str]] = []
        content_type = head.header("Content-Type")
        message = Message()
        message["Content-Type"] = content_type
        self.kind = message.get_content_type()
        self._boundary = message.get_param("boundary") if self.kind == "multipart/form-data" else None
        self._parser: MultipartParser | None = None
        self._raw = bytearray()
        if self._boundary:
            self._parser = MultipartParser(str(self._boundary), self._callbacks(), max_header_count=32)
        self.received = 0

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self._parser is not None:
            self._parser.write(chunk)
        elif len(self._raw) <= self.limit:
            self._raw += chunk[: self.limit + 1 - len(self._raw)]

    def finish(self) -> list[Upload]:
        """The uploads found. A urlencoded form becomes one text upload of its fields."""
        if self._parser is not None:
            self._parser.finalize()
            if self.form_fields:
                self.uploads.append(_form_upload(self.form_fields))
            return [u for u in self.uploads if u.data or u.name]
        if not self._raw:
            return []
        if self.kind == "application/x-www-form-urlencoded":
            pairs = parse_qsl(self._raw.decode("latin-1"), keep_blank_values=False)[:MAX_FORM_FIELDS]
            return [_form_upload([(unquote(k), v) for k, v in pairs])] if pairs else []
        return [Upload(self._raw_name(), self._raw)]

    def _raw_name(self) -> str:
        disposition = self.head.header("Content-Disposition")
        if disposition:
            message = Message()
            message["Content-Disposition"] = disposition
            name = message.get_filename()
            if name:
                return name
        path = unquote(urlsplit(self.head.url).path)
        return path.rstrip("/").rpartition("/")[2] or "upload"

    def _callbacks(self) -> Any:  # python-multipart's MultipartCallbacks, a TypedDict of these
        parts = _PartCollector(self)
        return {"on_part_begin": parts.begin, "on_header_field": parts.header_field,
                "on_header_value": parts.header_value, "on_header_end": parts.header_end,
                "on_headers_finished": parts.headers_finished, "on_part_data": parts.data, "on_part_end": parts.end}


class _PartCollector:
    """python-multipart callbacks: file parts become uploads, plain fields are collected as text."""

    def __init__(self, body: BodyCollector) -> None:
        self.body = body
        self.field, self.value = bytearray(), bytearray()
        self.headers: dict[str, str] = {}
        self.current: Upload | None = None
        self.text: tuple[str, bytearray] | None = None

    def begin(self) -> None:
        self.headers, self.current, self.text = {}, None, None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.field.decode("latin-1").lower()] = self.value.decode("utf-8", "replace")
        self.field, self.value = bytearray(), bytearray()

    def headers_finished(self) -> None:
        message = Message()
        message["Content-Disposition"] = self.headers.get("content-disposition", "")
        filename = message.get_param("filename", header="Content-Disposition")
        if filename is not None:  # a file part
            self.current = Upload(str(filename) or "upload")
            self.body.uploads.append(self.current)
        elif len(self.body.form_fields) < MAX_FORM_FIELDS:  # a plain field: its text is inspected too
            name = message.get_param("name", header="Content-Disposition")
            self.text = (str(name or "field"), bytearray())

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            room = self.body.limit + 1 - len(self.current.data)
            if room > 0:
                self.current.data += data[start : min(end, start + room)]
        elif self.text is not None and len(self.text[1]) < MAX_FIELD_BYTES:
            self.text[1].extend(data[start:end])

    def end(self) -> None:
        if self.text is not None:
            self.body.form_fields.append((self.text[0], self.text[1].decode("utf-8", "replace")))
        self.text = None


def _form_upload(fields: list[tuple[str, str]]) -> Upload:
    text = "\n".join(f"{name}: {value}" for name, value in fields)
    return Upload("form fields", bytearray(text.encode("utf-8")))
