"""Carriers and polyglots: what a file holds beyond its own format is read too, never passed unseen.

`cat newsletter.pdf customers.zip > poly.pdf` is a PDF to libmagic and an archive to `unzip`. The same for
an archive or a CSV after a PNG, a JPEG or a GIF, an archive after a CSV, and files attached to a PDF.
"""

from __future__ import annotations

import pytest

from detectors.extract import open_upload
from detectors.extract.carried import format_end
from detectors.findings import Part, Skipped
from detectors.limits import Limits
from tests import files

CUSTOMERS = "name,email,phone\n" + "\n".join(f"Person {i},p{i}@example.com,+46 70 123 45 {i:02d}" for i in range(8))
ARCHIVE = files.zip_of([("customers.csv", CUSTOMERS)])
CARRIERS = {
    "pdf": files.pdf([["Our spring newsletter: new products and an event in May."]]),
    "png": files.image("PNG", "Spring event"),
    "jpeg": files.image("JPEG", "Spring event"),
    "gif": files.image("GIF", "Spring event"),
    "csv": b"sku,name,price\nP0001,desk lamp,19.90\nP0002,chair,49.00\n",
}


def parts(blob: bytes, name: str) -> list[Part | Skipped]:
    return list(open_upload(blob, name, Limits()).items)


def text_of(items: list[Part | Skipped]) -> str:
    return "\n".join(i.text for i in items if isinstance(i, Part))


@pytest.mark.parametrize(("kind", "cargo"), [(kind, cargo) for kind in sorted(CARRIERS) for cargo in ("archive", "csv")
                                             if (kind, cargo) != ("csv", "csv")])  # a CSV after a CSV is one CSV
def test_what_follows_a_file_is_read(kind: str, cargo: str) -> None:
    payload = ARCHIVE if cargo == "archive" else CUSTOMERS.encode()
    items = parts(CARRIERS[kind] + payload, f"poly.{kind}")
    assert "p7@example.com" in text_of(items), [getattr(i, "origin", "") for i in items]
    origins = [i.origin for i in items]
    assert any("data after the end of the file" in o or "appended archive" in o for o in origins), origins


@pytest.mark.parametrize("kind", sorted(CARRIERS))
def test_a_file_with_nothing_appended_carries_nothing(kind: str) -> None:
    items = parts(CARRIERS[kind], f"plain.{kind}")
    assert not [i for i in items if isinstance(i, Skipped)]
    assert not any("after the end" in i.origin or "appended" in i.origin for i in items)


def test_padding_after_the_end_is_not_content() -> None:
    assert not any("after the end" in i.origin for i in parts(CARRIERS["pdf"] + b"\n\r\n  \x00\x00", "p.pdf"))


def test_files_attached_to_a_pdf_are_read() -> None:
    blob = files.pdf([["See the attached list."]], attachments=[("customers.csv", CUSTOMERS.encode()),
                                                               ("more.zip", ARCHIVE)])
    items = parts(blob, "newsletter.pdf")
    assert text_of(items).count("p7@example.com") == 2
    origins = [i.origin for i in items]
    assert "newsletter.pdf › attachment customers.csv" in origins
    assert "newsletter.pdf › attachment more.zip › customers.csv" in origins


def test_a_jpeg_thumbnail_is_not_the_end_of_the_picture() -> None:
    jpeg = CARRIERS["jpeg"]
    assert jpeg.count(b"\xff\xd9") >= 2  # the EXIF thumbnail ends too, inside its segment
    assert format_end(jpeg, "image/jpeg") == len(jpeg)
