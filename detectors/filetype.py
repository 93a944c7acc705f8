"""True file type by content (libmagic through python-magic), never by file name."""

from __future__ import annotations

import threading

import magic

_SNIFF_BYTES = 64 * 1024
# libmagic's text tests cost milliseconds per 64 KB of prose; the first kilobyte tells text apart
# (and which text: CSV, JSON, mail, markup). Anything else is looked at again with 64 KB.
_QUICK_BYTES = 1024
_lock = threading.Lock()  # a libmagic handle is not thread-safe
_magic = magic.Magic(mime=True, mime_encoding=True)


_TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "message/rfc822", "application/csv")


def sniff(blob: bytes) -> tuple[str, str]:
    """Return ``(mime_type, encoding)`` of ``blob`` as libmagic sees its first bytes."""
    if not blob:
        return "application/x-empty", "binary"
    with _lock:
        found: str = _magic.from_buffer(blob[:_QUICK_BYTES])
        quick_and_sure = found.startswith(_TEXT_TYPES) and not blob[:_QUICK_BYTES].lstrip().startswith((b"{", b"["))
        if len(blob) > _QUICK_BYTES and not quick_and_sure:  # binary, or JSON (which needs its end to be seen)
            found = _magic.from_buffer(blob[:_SNIFF_BYTES])
    mime, _, rest = found.partition(";")
    encoding = rest.strip().removeprefix("charset=") or "binary"
    return mime.strip(), encoding
