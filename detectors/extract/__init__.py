"""Extraction: turn an upload's bytes into text ``Part``s, choosing the extractor by true type.

One extractor per format family behind one signature,
``extract(blob, name, encoding, limits) -> Iterator[Part]``. Formats no extractor
handles raise ``Unscannable``: content Detour cannot read is never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from detectors.errors import Unscannable
from detectors.extract import text
from detectors.findings import Part
from detectors.limits import Limits

Extractor = Callable[[bytes, str, str, Limits], Iterator[Part]]

# True MIME type (from libmagic) -> extractor. Text-like types are matched by prefix below.
_EXTRACTORS: dict[str, Extractor] = {
    "application/json": text.extract_json,
    "application/x-ndjson": text.extract_json,
    "text/csv": text.extract_text,
    "application/csv": text.extract_text,
    "application/x-empty": text.extract_empty,
    "inode/x-empty": text.extract_empty,
    "application/javascript": text.extract_text,
    "application/xml": text.extract_text,
    "application/x-yaml": text.extract_text,
    "application/x-wine-extension-ini": text.extract_text,
}


def extractor_for(mime_type: str) -> Extractor | None:
    if mime_type in _EXTRACTORS:
        return _EXTRACTORS[mime_type]
    if mime_type.startswith("text/"):
        return text.extract_text
    return None


def extract(blob: bytes, mime_type: str, name: str, encoding: str, limits: Limits) -> Iterator[Part]:
    """Yield the text parts of ``blob``; raise ``Unscannable`` for formats Detour cannot read."""
    extractor = extractor_for(mime_type)
    if extractor is None and mime_type == "application/octet-stream":
        sniffed = text.text_encoding(blob)  # libmagic misses e.g. UTF-16 without a BOM
        if sniffed is not None:
            extractor, encoding = text.extract_text, sniffed
    if extractor is None:
        raise Unscannable(f"files of type {mime_type} can't be read by Detour yet, so it can't be checked")
    yield from extractor(blob, name, encoding, limits)
