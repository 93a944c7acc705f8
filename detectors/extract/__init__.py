"""Extraction: turn an upload's bytes into text ``Part``s, choosing the extractor by true type.

- ``base``: the ``Item``/``Context`` every extractor shares, and bounded reading;
- ``dispatch``: the extractor for a MIME type, and ``extract`` (never raises);
- one module per format family: ``text``, ``office``, ``pdf``, ``archive``,
  ``mail``, ``image`` (and ``labels`` for sensitivity labels in properties);
- ``isolated``: complex formats run in a worker process with memory, CPU and
  time limits.

``open_upload`` is the entry the gateway's pipeline calls: it sniffs the true
type and hands back the parts as they are extracted (in-process for plain text,
in an isolated worker for everything else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from detectors.extract.base import Context, Item
from detectors.extract.carried import carries_archive
from detectors.extract.dispatch import extract, fresh_context, reads_as_text
from detectors.extract.isolated import extract_isolated
from detectors.filetype import sniff
from detectors.limits import Limits

__all__ = ["Context", "Extraction", "Item", "extract", "fresh_context", "open_upload"]


@dataclass(frozen=True)
class Extraction:
    """An upload's true type, and its parts as they come (a generator: closing it stops the work)."""

    mime_type: str
    encoding: str
    items: Iterator[Item]


def open_upload(blob: bytes, name: str, limits: Limits,
                cancelled: Callable[[], bool] | None = None) -> Extraction:
    """Sniff the true type and start extracting. ``cancelled`` is asked while waiting for a worker:
    when it says yes, the worker is stopped and nothing more is yielded."""
    mime_type, encoding = sniff(blob)
    if reads_as_text(mime_type, blob, encoding) and not carries_archive(blob):  # our linear parsers, in-process
        items: Iterator[Item] = extract(blob, name, fresh_context(limits), mime_type, encoding)
    else:
        items = extract_isolated(blob, name, mime_type, encoding, limits, cancelled)
    return Extraction(mime_type, encoding, items)
