"""What a file carries besides what its own format shows: bytes after its end, an archive appended to it.

``cat newsletter.pdf customers.zip > poly.pdf`` is a PDF to libmagic and to a PDF
reader, and an archive to ``unzip``: both must be read. After the extractor of a
file's true type has run, this module finds:

- **data after the end of the format**: after a PNG's ``IEND`` chunk, a JPEG's end
  of image, a GIF's trailer, a PDF's last ``%%EOF``; what follows (an archive, a
  CSV, another file) is extracted like a member of a container;
- **an archive appended to anything else** (a CSV, a text, a format whose end
  Detour does not parse): a ZIP's central directory sits at the end of the file,
  so ``zipfile`` finds it whatever comes before.

Files attached to a PDF are read by the PDF extractor itself. What is found is
charged to the upload's budget like any member; what cannot be read is
unscannable, never a pass.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from detectors.errors import Unscannable
from detectors.extract import office
from detectors.extract.base import Context, Item, member_origin
from detectors.findings import Skipped

ZIP_END = b"PK\x05\x06"  # the end of a ZIP's central directory
ZIP_TAIL = 65_557  # the end record (22 bytes) and the longest comment (65,535) a ZIP can end with
PADDING = b" \t\r\n\x00"  # what writers leave after the end of a format, and nothing else
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})


def carries_archive(blob: bytes) -> bool:
    """Cheap: whether ``blob`` ends like a ZIP archive (its central directory's end record in the tail)."""
    return ZIP_END in blob[-ZIP_TAIL:]


def carried(blob: bytes, origin: str, mime_type: str, context: Context) -> Iterator[Item]:
    """What ``blob`` carries beyond its format: the data after its end, or an archive appended to it."""
    end = format_end(blob, mime_type)
    if end is not None:
        trailer = blob[end:].lstrip(b" \t\r\n")  # writers end a format with a line break or two
        if trailer.strip(PADDING):
            yield from context.member(trailer, member_origin(origin, "data after the end of the file"))
        return
    packages = ZIP_TYPES | office.OOXML_TYPES | office.ODF_TYPES  # read as archives already
    if mime_type not in packages and carries_archive(blob):
        yield from _appended_archive(blob, origin, context)


def format_end(blob: bytes, mime_type: str) -> int | None:
    """Where the format of ``blob`` ends (the offset after its last byte), for the formats that say so."""
    if mime_type == "image/png":
        return _png_end(blob)
    if mime_type == "image/jpeg":
        return _jpeg_end(blob)
    if mime_type == "image/gif":
        return _gif_end(blob)
    if mime_type == "application/pdf":
        last = blob.rfind(b"%%EOF")
        return last + 5 if last >= 0 else None
    return None


def archive_start(blob: bytes) -> int | None:
    """Where an archive appended to ``blob`` starts (its first member), when ``blob`` ends like one."""
    if not carries_archive(blob):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            offsets = [info.header_offset for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None  # the bytes of an end record by chance: not an archive anyone can open either
    return min(offsets, default=None)


def _appended_archive(blob: bytes, origin: str, context: Context) -> Iterator[Item]:
    from detectors.extract.archive import extract_zip  # only for files that end like an archive

    if archive_start(blob) is None:
        return
    name = member_origin(origin, "appended archive")
    try:
        inner = context.charge(name)
        yield from extract_zip(blob, name, "binary", inner)
    except Unscannable as exc:
        yield Skipped(name, exc.reason)


def _png_end(blob: bytes) -> int | None:
    """After the IEND chunk (length 0, type, CRC)."""
    found = blob.find(b"IEND", 8)
    return found + 8 if found >= 0 else None


def _jpeg_end(blob: bytes) -> int | None:
    """After the end-of-image marker that ends the scan data, walking the segments (an EXIF thumbnail has an
    end-of-image marker of its own, inside a segment, which this skips)."""
    at, size = 2, len(blob)
    while at + 2 <= size:
        if blob[at] != 0xFF:
            return None
        marker = blob[at + 1]
        if marker == 0xFF:  # fill bytes
            at += 1
            continue
        if marker == 0xD9:
            return at + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
            continue
        if at + 4 > size:
            return None
        length = int.from_bytes(blob[at + 2 : at + 4], "big")
        at += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker that is not stuffing or RST
            while True:
                at = blob.find(b"\xff", at)
                if at < 0 or at + 1 >= size:
                    return None
                following = blob[at + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    at += 1 if following == 0xFF else 2
                    continue
                break
    return None


def _gif_end(blob: bytes) -> int | None:
    """After the trailer byte, walking the blocks: header, screen descriptor, colour tables, extensions, images."""
    size = len(blob)
    if size < 13:
        return None
    at = 13
    if blob[10] & 0x80:  # a global colour table
        at += 3 * (2 ** ((blob[10] & 0x07) + 1))
    while at < size:
        kind = blob[at]
        if kind == 0x3B:
            return at + 1
        if kind == 0x21:  # an extension: label, then sub-blocks
            at = _after_sub_blocks(blob, at + 2)
        elif kind == 0x2C:  # an image: descriptor, local colour table, LZW code size, sub-blocks
            if at + 10 > size:
                return None
            flags = blob[at + 9]
            at += 10
            if flags & 0x80:
                at += 3 * (2 ** ((flags & 0x07) + 1))
            at = _after_sub_blocks(blob, at + 1)
        else:
            return None
        if at < 0:
            return None
    return None


def _after_sub_blocks(blob: bytes, at: int) -> int:
    """Past a chain of data sub-blocks (length byte, data; a zero length ends it); -1 when cut off."""
    size = len(blob)
    while at < size:
        length = blob[at]
        at += 1 + length
        if length == 0:
            return at
    return -1
