"""What an HTTP request uploads: the files of a multipart form, a urlencoded form, or a raw body.

One reader for every channel that sees HTTP bodies: the ICAP server and
``POST /v1/intercept`` (whole intercepted requests) and ``POST /v1/inspect``
(Detour's own API). The body is fed as it arrives: a multipart form is taken
apart while it streams in (python-multipart), each file is hashed whole and
kept up to the upload limit (spooled to disk beyond a megabyte), so a body of
any size takes bounded memory and a file over the limit is still decided by the
policy, with its true size and digest. A body that does not parse is not an
error for the channel: it becomes content that can't be read, and the policy
decides on it.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from python_multipart.multipart import MultipartParser, MultipartState

from gateway.records import Content

MAX_FILES = 100  # files in one request; more can't all be checked, so the request is decided as unreadable
MAX_FORM_FIELDS = 1000  # plain fields in one form; more can't all be checked: the form is decided as unreadable
MAX_PART_HEADERS = 32
SPOOL_IN_MEMORY = 1024 * 1024  # a file's bytes go to a temporary file beyond this
FORM_FIELDS = "form fields"  # the name under which a form's text fields are inspected


CHARSETS = frozenset({"utf-8", "utf8", "iso-8859-1", "latin-1", "us-ascii", ""})  # what filename* may name
MAX_NAME = 255


def disposition_filename(value: str) -> str | None:
    """The file name in a Content-Disposition header (RFC 6266: ``filename*`` of RFC 8187 wins over
    ``filename``), cleaned (``clean_file_name``); None when there is none, "" when it is empty. A header
    that does not parse but names a file counts as naming an unnamed one: its content is inspected."""
    try:
        message = Message()
        message["Content-Disposition"] = value
        found = [v for k, v in message.get_params([], header="content-disposition")[1:] if k == "filename"]
        if not found:
            return None
        extended = [v for v in found if isinstance(v, tuple)]  # filename*: charset, language, value
        chosen = (extended or found)[0]
        if isinstance(chosen, tuple) and chosen[0].lower() not in CHARSETS:  # e.g. unicode_escape: no
            chosen = ("utf-8", chosen[1], chosen[2])
        return clean_file_name(collapse_rfc2231_value(chosen, errors="replace"))
    except Exception:  # the email module's parameter parsing has its own failure modes on hostile input
        return "" if "filename" in value.lower() else None


def disposition_name(value: str) -> str | None:
    try:
        message = Message()
        message["Content-Disposition"] = value
        name = message.get_param("name", None, header="content-disposition")
        return None if name is None else collapse_rfc2231_value(name, errors="replace")
    except Exception:
        return None


def clean_file_name(name: str) -> str:
    """A file name as people may see it: no folder the client sent along, no control characters, no lone
    surrogates (they can't be written anywhere), at most 255 characters."""
    name = name.replace("\\", "/").rstrip("/").rpartition("/")[2]
    name = "".join(ch for ch in name if ch.isprintable())
    return name.encode("utf-8", "replace").decode("utf-8")[:MAX_NAME]


@dataclass
class HttpRequestHead:
    """The request line and headers of an HTTP request (encapsulated in ICAP, or forwarded by an add-on)."""

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


class BodyFile:
    """One file of a body: hashed whole, kept up to ``limit + 1`` bytes (so a larger file is known to be)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.size = 0
        self._limit = limit
        self._digest = hashlib.sha256()
        self._kept = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by close()
        self._kept_bytes = 0

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        self._digest.update(data)
        room = self._limit + 1 - self._kept_bytes
        if room > 0:
            piece = data[:room]
            self._kept.write(piece)
            self._kept_bytes += len(piece)

    @property
    def on_disk(self) -> bool:
        """Whether reading it back means file I/O (off the event loop, then)."""
        return self._kept_bytes > SPOOL_IN_MEMORY

    def content(self) -> Content:
        """The file as the pipeline takes it (read into memory: one file at a time)."""
        self._kept.seek(0)
        return Content(self._kept.read(), size=self.size, sha256=self._digest.hexdigest())

    def close(self) -> None:
        self._kept.close()


@dataclass
class Body:
    """What a body holds: its files, its plain form fields, or why it can't be read."""

    files: list[BodyFile] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None  # for people: why the body can't be read

    def close(self) -> None:
        for body_file in self.files:
            body_file.close()


class BodyReader:
    """Reads one request body as it arrives; ``finish`` says what it holds. A context manager: leaving
    it closes the files' spools, also when the client went away mid-body.

    ``limit``: bytes kept of each file (the upload limit); ``raw_name``: the name of a body that is not a
    form (the body is the file itself). Whether a form's plain fields are content (a proxy inspects them
    as text) or options (Detour's API) is the caller's to say.
    """

    def __init__(self, content_type: str, limit: int, raw_name: str = "upload") -> None:
        self.limit = limit
        self.raw_name = raw_name
        message = Message()
        message["Content-Type"] = content_type
        self.kind = message.get_content_type()
        boundary = message.get_param("boundary") if self.kind == "multipart/form-data" else None
        self.body = Body()
        self.received = 0
        self.files_seen = 0
        self._parser: MultipartParser | None = None
        self._raw: BodyFile | None = None
        self._form = bytearray()  # a urlencoded form, up to the limit
        self.field_bytes = 0  # of a multipart form's plain fields, all together
        if isinstance(boundary, str) and boundary:
            try:
                self._parser = MultipartParser(boundary, _PartCollector(self).callbacks(),
                                               max_header_count=MAX_PART_HEADERS)
            except Exception:  # python-multipart refuses e.g. a boundary longer than RFC 2046 allows
                self.body.problem = "the form's boundary is not valid, so its files can't be found"
        elif self.kind == "multipart/form-data":
            self.body.problem = "the form has no boundary, so its files can't be found"

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.body.problem is not None or not chunk:
            return
        if self._parser is not None:
            try:
                self._parser.write(chunk)
            except Exception:  # the parser or a part's headers: whatever it is, the form can't be read
                self.body.problem = "the form does not parse, so its files can't be found"
        elif self.kind == "application/x-www-form-urlencoded":
            if len(self._form) + len(chunk) > self.limit:
                self.body.problem = "the form is longer than the upload limit, so it can't be checked"
                return
            self._form += chunk
        else:
            if self._raw is None:
                self._raw = BodyFile(self.raw_name, self.limit)
                self.body.files.append(self._raw)
            self._raw.write(chunk)

    def __enter__(self) -> BodyReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.body.close()  # the files' spools, whether the body was read to its end or not

    def finish(self) -> Body:
        """The body's files and fields, or its ``problem`` (closed when the reader is)."""
        if self._parser is not None and self.body.problem is None:
            try:
                self._parser.finalize()
            except Exception:
                self.body.problem = "the form does not parse, so its files can't be found"
            else:
                if self.received and self._parser.state != MultipartState.END:  # cut off before its end
                    self.body.problem = "the form ends before its last boundary, so its files can't all be found"
        if self.kind == "application/x-www-form-urlencoded" and self._form:
            text = self._form.decode("latin-1")
            try:
                # blank values kept: a body sent as a form that is no form (curl --data-binary @list.csv) is
                # one long name without a value, and must be inspected all the same
                pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            except ValueError:
                pairs = []
                self.body.problem = f"the form has more than {MAX_FORM_FIELDS} fields, so they can't all be checked"
            self.body.fields.extend((unquote(k), v) for k, v in pairs)
        if self.files_seen > MAX_FILES:
            self.body.problem = f"the request holds more than {MAX_FILES} files, so they can't all be checked"
        if len(self.body.fields) > MAX_FORM_FIELDS:
            self.body.problem = f"the form has more than {MAX_FORM_FIELDS} fields, so they can't all be checked"
        if self.field_bytes > self.limit:
            self.body.problem = "the form's fields are longer than the upload limit, so they can't be checked"
        return self.body


class _PartCollector:
    """python-multipart callbacks: file parts become ``BodyFile``s, plain fields are collected as text."""

    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader
        self.field, self.value = bytearray(), bytearray()
        self.headers: dict[str, str] = {}
        self.current: BodyFile | None = None
        self.text: tuple[str, bytearray] | None = None

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks, a TypedDict of these
        return {"on_part_begin": self.begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.data, "on_part_end": self.end}

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
        disposition = self.headers.get("content-disposition", "")
        filename = disposition_filename(disposition)
        body = self.reader.body
        if filename is not None:  # a file part
            self.reader.files_seen += 1
            if self.reader.files_seen > MAX_FILES:  # counted, not kept: the request is decided as unreadable
                return
            self.current = BodyFile(filename or "upload", self.reader.limit)  # cleaned by disposition_filename
            body.files.append(self.current)
        else:  # a plain field: text that is inspected too (kept up to the limit, all fields together)
            self.text = (disposition_name(disposition) or "field", bytearray())

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current.write(memoryview(data)[start:end])
        elif self.text is not None:
            room = self.reader.limit + 1 - self.reader.field_bytes
            self.reader.field_bytes += end - start
            if room > 0:
                self.text[1].extend(data[start : min(end, start + room)])

    def end(self) -> None:
        if self.text is not None:
            self.reader.body.fields.append((self.text[0], self.text[1].decode("utf-8", "replace")))
        self.text = None


def request_file_name(head: HttpRequestHead) -> str:
    """The name of a raw request body: its Content-Disposition, else the last segment of the URL's path."""
    disposition = head.header("Content-Disposition")
    name = disposition_filename(disposition) if disposition else None
    if name:
        return name
    try:
        path = unquote(urlsplit(head.url).path)
    except ValueError:  # not a URL anyone can parse (http://[::1/…): the name is not worth failing for
        return "upload"
    return clean_file_name(path) or "upload"


def form_fields_content(fields: list[tuple[str, str]]) -> Content:
    """A form's plain fields as one text upload: what a person typed is content too."""
    return Content("\n".join(f"{name}: {value}" for name, value in fields).encode("utf-8"))
