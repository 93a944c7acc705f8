"""Extractor for Office documents: DOCX, XLSX, PPTX and OpenDocument (ODT, ODS, ODP).

Text, tables (one record per row), headers and footers, comments, footnotes,
speaker notes and tracked deletions, with provenance ("deck.pptx › slide 3",
"kunder.xlsx › sheet Kunder"); sensitivity labels from the document properties;
embedded documents are extracted like archive members. XML is parsed with
defusedxml: DTDs and entity expansion (billion laughs) are refused.
Password-protected Office files are encrypted containers: reported, not read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from detectors.errors import Unscannable
from detectors.extract import labels
from detectors.extract.base import Context, Item, member_origin, read_zip_member
from detectors.extract.text import table_part
from detectors.findings import Layout, Part, Skipped
from detectors.limits import Limits

OOXML_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
})
ODF_TYPES = frozenset({
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
})

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"


@dataclass(frozen=True)
class Tags:
    paragraphs: frozenset[str]
    table: str
    row: str
    cell: str


WORD_TAGS = Tags(frozenset({f"{W}p"}), f"{W}tbl", f"{W}tr", f"{W}tc")
DRAWING_TAGS = Tags(frozenset({f"{A}p"}), f"{A}tbl", f"{A}tr", f"{A}tc")
ODF_TAGS = Tags(frozenset({f"{TEXT}p", f"{TEXT}h"}), f"{TABLE}table", f"{TABLE}table-row", f"{TABLE}table-cell")


def package_kind(archive: zipfile.ZipFile) -> str | None:
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        for marker, kind in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"),
                             ("ppt/presentation.xml", "pptx")):
            if marker in names:
                return kind
    if "mimetype" in names and "content.xml" in names:
        return "odf"
    return None


def extract_encrypted_office(blob: bytes, origin: str, encoding: str, context: Context) -> Iterator[Item]:
    yield Skipped(origin, f"{origin} is password-protected, so it can't be checked")


def extract_package(archive: zipfile.ZipFile, kind: str, origin: str, context: Context) -> Iterator[Item]:
    reader = _PackageReader(archive, origin, context)
    if kind == "docx":
        yield from _docx(reader)
    elif kind == "xlsx":
        yield from _xlsx(reader)
    elif kind == "pptx":
        yield from _pptx(reader)
    else:
        yield from _odf(reader)
    if kind != "odf":  # OOXML keeps sensitivity labels in its custom properties
        label = reader.custom_properties()
        if label is not None:
            yield label
    yield from reader.embedded()


class _PackageReader:
    """Reads parts of an Office package with the archive's limits; parses XML safely."""

    def __init__(self, archive: zipfile.ZipFile, origin: str, context: Context) -> None:
        self.archive, self.origin, self.context = archive, origin, context
        self.names = archive.namelist()

    def read(self, name: str) -> bytes:
        return read_zip_member(self.archive, self.archive.getinfo(name), member_origin(self.origin, name),
                               self.context)

    def xml(self, name: str) -> Element | None:
        if name not in self.names:
            return None
        try:
            root: Element = SafeET.fromstring(self.read(name), forbid_dtd=True)
        except DefusedXmlException as exc:
            raise Unscannable(f"{self.origin} contains XML built to attack parsers (entity expansion), "
                              "so it can't be checked") from exc
        return root

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return sorted((n for n in self.names if regex.fullmatch(n)), key=_natural)

    def blocks(self, name: str, tags: Tags, where: str) -> Iterator[Part]:
        root = self.xml(name)
        if root is not None:
            yield from _parts_of(root, tags, where, self.context.limits)

    def custom_properties(self) -> Part | None:
        root = self.xml("docProps/custom.xml")
        if root is None:
            return None
        properties = {p.get("name", ""): "".join(p.itertext()) for p in root.iter(f"{CUSTOM}property")}
        return labels.label_part(properties, self.origin)

    def embedded(self) -> Iterator[Item]:
        for name in self.matching(r"(word|xl|ppt)/embeddings/.+"):
            where = member_origin(self.origin, name)
            try:
                data = self.read(name)
            except Unscannable as exc:
                yield Skipped(where, exc.reason)
                continue
            yield from self.context.member(data, where)


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _parts_of(root: Element, tags: Tags, where: str, limits: Limits) -> Iterator[Part]:
    """Paragraphs become one prose part; each table becomes a table part of its own."""
    paragraphs: list[str] = []
    tables: list[list[list[str]]] = []
    _walk(root, tags, paragraphs, tables)
    text = "\n".join(p for p in paragraphs if p.strip())
    if text:
        yield Part(text, where, Layout.PROSE)
    for number, rows in enumerate(tables, start=1):
        yield table_part(rows, f"{where} › table {number}", limits)


def _walk(element: Element, tags: Tags, paragraphs: list[str], tables: list[list[list[str]]]) -> None:
    for child in element:
        if child.tag == tags.table:
            tables.append([[" ".join(" ".join(cell.itertext()).split()) for cell in row if cell.tag == tags.cell]
                           for row in child.iter(tags.row)])
        elif child.tag in tags.paragraphs:
            paragraphs.append("".join(child.itertext()))
        else:
            _walk(child, tags, paragraphs, tables)


def _docx(reader: _PackageReader) -> Iterator[Item]:
    origin = reader.origin
    yield from reader.blocks("word/document.xml", WORD_TAGS, origin)
    for kind in ("header", "footer", "comments", "footnotes", "endnotes"):
        for name in reader.matching(rf"word/{kind}\d*\.xml"):
            yield from reader.blocks(name, WORD_TAGS, f"{origin} › {kind}")


def _pptx(reader: _PackageReader) -> Iterator[Item]:
    origin = reader.origin
    for name in reader.matching(r"ppt/slides/slide\d+\.xml"):
        number = re.findall(r"\d+", name)[-1]
        yield from reader.blocks(name, DRAWING_TAGS, f"{origin} › slide {number}")
    for name in reader.matching(r"ppt/notesSlides/notesSlide\d+\.xml"):
        number = re.findall(r"\d+", name)[-1]
        yield from reader.blocks(name, DRAWING_TAGS, f"{origin} › notes {number}")
    for name in reader.matching(r"ppt/comments/.+\.xml"):
        root = reader.xml(name)
        if root is not None:
            text = "\n".join("".join(c.itertext()) for c in root.iter(f"{P}text"))
            if text.strip():
                yield Part(text, f"{origin} › comments", Layout.PROSE)


def _xlsx(reader: _PackageReader) -> Iterator[Item]:
    import openpyxl  # uses defusedxml when it is installed, as it is here

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as copy:  # hand openpyxl only what the limits let through
        for name in reader.names:
            if not name.endswith("/"):
                copy.writestr(name, reader.read(name))
    workbook = openpyxl.load_workbook(io.BytesIO(raw.getvalue()), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            rows = (row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row))
            part = table_part(rows, f"{reader.origin} › sheet {sheet.title}", reader.context.limits)
            if part.text.strip():
                yield part
    finally:
        workbook.close()
    for name in reader.matching(r"xl/comments\d*\.xml"):
        root = reader.xml(name)
        if root is not None:
            text = "\n".join("".join(c.itertext()) for c in root.iter() if c.tag.endswith("}comment"))
            if text.strip():
                yield Part(text, f"{reader.origin} › comments", Layout.PROSE)


def _odf(reader: _PackageReader) -> Iterator[Item]:
    yield from reader.blocks("content.xml", ODF_TAGS, reader.origin)
    yield from reader.blocks("styles.xml", ODF_TAGS, f"{reader.origin} › header and footer")
    root = reader.xml("meta.xml")
    if root is not None:
        properties = {m.get(f"{META}name", ""): "".join(m.itertext()) for m in root.iter(f"{META}user-defined")}
        label = labels.label_part(properties, reader.origin)
        if label is not None:
            yield label
