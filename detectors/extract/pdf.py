"""Extractor for PDF: text per page, sensitivity labels from the metadata, attached files; encrypted PDFs reported.

A PDF that opens without a password (an empty user password) is read; one that
needs a password is unscannable. Malformed and looping PDFs are bounded by the
page limit here and by the worker's time and memory limits around extraction.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from detectors.errors import Unscannable
from detectors.extract import labels
from detectors.extract.base import Context, Item, member_origin
from detectors.findings import Layout, Part, Skipped

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs are expected input, not news


def extract_pdf(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    try:
        reader = PdfReader(io.BytesIO(blob), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            yield Skipped(origin, f"{origin} is password-protected, so it can't be checked")
            return
        pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        if "encrypt" in str(exc).lower() or "password" in str(exc).lower():
            yield Skipped(origin, f"{origin} is password-protected, so it can't be checked")
            return
        raise Unscannable(f"{origin} is a damaged PDF, so it can't be checked") from exc
    if pages > context.limits.max_pdf_pages:
        raise Unscannable(f"{origin} has more than {context.limits.max_pdf_pages:,} pages, "
                          "so it can't be checked completely")
    metadata = dict(reader.metadata or {})
    label = labels.label_part({str(k): str(v) for k, v in metadata.items()}, origin)
    if label is not None:
        yield label
    for number in range(pages):
        context.budget.check_time(origin)
        try:
            text = reader.pages[number].extract_text() or ""
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, ZeroDivisionError):
            yield Skipped(f"{origin} › page {number + 1}", f"page {number + 1} of {origin} is damaged, "
                                                            "so it can't be checked")
            continue
        if text.strip():
            yield Part(text, f"{origin} › page {number + 1}", Layout.PROSE)
    yield from _attachments(reader, origin, context)


def _attachments(reader: PdfReader, origin: str, context: Context) -> Iterator[Item]:
    """Files attached to the PDF (embedded files, file attachment annotations): read like archive members."""
    try:
        attached = {str(name): list(contents) for name, contents in reader.attachments.items()}
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Unscannable(f"the files attached to {origin} can't be read, so it can't be checked") from exc
    for name, contents in attached.items():
        for number, data in enumerate(contents, start=1):
            where = member_origin(origin, f"attachment {name}" + (f" ({number})" if len(contents) > 1 else ""))
            try:
                context.budget.spend_bytes(len(data), where)
            except Unscannable as exc:
                yield Skipped(where, exc.reason)
                return
            yield from context.member(data, where)
