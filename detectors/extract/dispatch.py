"""The dispatcher: choose the extractor for a blob by its true type and run it, never raising.

One extractor per format family, chosen by the MIME type libmagic sees, never
by the file name. What cannot be read becomes a ``Skipped`` record (and, later,
an ``UNSCANNABLE`` finding): never a silent pass. Contexts made here send
container members back here (``Context.member``), so nesting works at any
depth the limits allow.

libmagic guesses from the first bytes, and text can look like something else
(a memo starting "PS" is HP-GL to it, one starting "Article" a news posting): a
type Detour has no extractor for is read as text when its bytes decode as text,
and the decision keeps libmagic's name for it. Text that wraps encrypted data
(an armoured PGP message, an age file, an Ansible vault) is content that can't
be checked, whatever libmagic calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from detectors.errors import Unscannable
from detectors.extract import text
from detectors.extract.base import Context, Extractor, Item
from detectors.extract.carried import archive_start, carried
from detectors.filetype import sniff
from detectors.findings import Skipped
from detectors.limits import Budget, Limits

log = logging.getLogger(__name__)


def fresh_context(limits: Limits) -> Context:
    """The context of one upload at the top level: a new budget, members dispatched here."""
    return Context(limits, Budget(limits), _dispatch_member)


# Text armour around encrypted data: only its first bytes are text, the rest can't be read.
ENCRYPTED_ARMOUR = (b"-----BEGIN PGP MESSAGE-----", b"-----BEGIN AGE ENCRYPTED FILE-----", b"age-encryption.org/v1\n",
                    b"$ANSIBLE_VAULT;")
UNREADABLE_CHARSETS = frozenset({"binary", "unknown-8bit", ""})


def encrypted_armour(blob: bytes) -> bool:
    return blob[:64].lstrip().startswith(ENCRYPTED_ARMOUR)


def text_encoding_of(blob: bytes, charset: str) -> str | None:
    """The encoding to read ``blob`` as text with, when it is text (libmagic's charset, or UTF-8/16 it
    missed), else None. Real binaries (control bytes, invalid sequences) are not text."""
    found = text.text_encoding(blob)
    if found is not None or charset.lower() in UNREADABLE_CHARSETS:
        return found
    try:
        sample = blob[:4096].decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\f")
    return charset if sample and controls <= len(sample) // 100 else None


def extractor_for(mime_type: str, blob: bytes, charset: str = "binary") -> Extractor | None:
    """The extractor for ``blob``: by its type; text armour around encrypted data is unreadable; a type
    without an extractor is read as text when it decodes as text (libmagic's charset, or UTF-8/16)."""
    if encrypted_armour(blob):
        return extract_encrypted
    known = _extractor_of_type(mime_type)
    if known is not None:
        return known
    encoding = text_encoding_of(blob, charset)
    if encoding is not None:
        return lambda b, o, _e, c: text.extract_text(b, o, encoding, c)
    return None


def _extractor_of_type(mime_type: str) -> Extractor | None:
    # Imported here: each module pulls in its parser only when that format is seen.
    from detectors.extract import archive, image, mail, office, pdf

    table: dict[str, Extractor] = {
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
        "application/pdf": pdf.extract_pdf,
        "message/rfc822": mail.extract_mail,
        "application/zip": archive.extract_zip,
        "application/gzip": archive.extract_gzip,
        "application/x-gzip": archive.extract_gzip,
        "application/x-bzip2": archive.extract_bzip2,
        "application/x-xz": archive.extract_xz,
        "application/x-tar": archive.extract_tar,
        "application/encrypted": office.extract_encrypted_office,
        "application/pgp-encrypted": extract_encrypted,
        "image/png": image.extract_image,
        "image/jpeg": image.extract_image,
        "image/tiff": image.extract_image,
        "image/bmp": image.extract_image,
        "image/gif": image.extract_image,
        "image/webp": image.extract_image,
    }
    if mime_type in table:
        return table[mime_type]
    if mime_type in office.OOXML_TYPES or mime_type in office.ODF_TYPES:
        return archive.extract_zip  # packages are zips; the zip extractor recognises them
    if mime_type.startswith("text/"):
        return text.extract_text
    return None


def extract_encrypted(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    yield Skipped(origin, f"{origin} is encrypted, so it can't be checked")


def reads_as_text(mime_type: str, blob: bytes, charset: str) -> bool:
    """Whether ``blob`` is read by Detour's own text parsers (linear, cheap and safe in-process): a text
    type, or a type without an extractor whose bytes are text."""
    if is_plain_text(mime_type) or encrypted_armour(blob):
        return True
    return _extractor_of_type(mime_type) is None and text_encoding_of(blob, charset) is not None


def is_plain_text(mime_type: str) -> bool:
    """Formats parsed by Detour's own linear code, cheap and safe enough to run in-process."""
    return mime_type.startswith("text/") or mime_type in (
        "application/json", "application/x-ndjson", "application/csv", "application/x-empty", "inode/x-empty",
    )


def extract(blob: bytes, origin: str, context: Context, mime_type: str | None = None,
            encoding: str | None = None) -> Iterator[Item]:
    """Yield the parts of ``blob``, then of what it carries beyond its format (``carried``); what cannot be
    read is yielded as ``Skipped``, never raised."""
    if mime_type is None or encoding is None:
        mime_type, encoding = sniff(blob)
    extractor = extractor_for(mime_type, blob, encoding)
    start = archive_start(blob) if extractor is None else None
    if start:  # unknown as a whole because an archive follows: what comes before it, by its own type
        yield from extract(blob[:start], origin, context)
    elif extractor is None:
        yield Skipped(origin, f"files of type {mime_type} can't be read by Detour, so it can't be checked")
    else:
        yield from _guarded(extractor(blob, origin, encoding, context), origin, mime_type)
    yield from _guarded(carried(blob, origin, mime_type, context), origin, mime_type)


def _guarded(items: Iterator[Item], origin: str, mime_type: str) -> Iterator[Item]:
    try:
        yield from items
    except Unscannable as exc:
        yield Skipped(origin, exc.reason)
    except (RecursionError, MemoryError):
        yield Skipped(origin, f"{origin} is too complex to read safely, so it can't be checked")
    except Exception:  # a malformed file tripping a parser: unscannable, never a crash or a pass
        log.warning("could not read a %s file", mime_type, exc_info=True)
        yield Skipped(origin, f"{origin} could not be read (it may be damaged), so it can't be checked")


def _dispatch_member(data: bytes, origin: str, context: Context) -> Iterator[Item]:
    return extract(data, origin, context)
