"""Extractor for text formats: plain text in any common encoding, CSV/TSV, JSON and JSON Lines.

Tables become one record per row (cells joined by TAB) so that a row is one
person; JSON objects become one record each, rendered as ``key: value`` cells so
that field names serve as context for the values beside them.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import charset_normalizer
import numpy as np

from detectors.errors import Unscannable
from detectors.extract.base import Context
from detectors.findings import CELL_SEPARATOR, RECORD_SEPARATOR, Layout, Part
from detectors.limits import Limits

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DETECT_SAMPLE = 256 * 1024
_TABLE_SAMPLE_LINES = 50
_DELIMITERS = ",;\t|"


def decode(blob: bytes, declared: str = "") -> str:
    """Decode ``blob`` as text: BOM first, then UTF-8, then libmagic's or a detected charset."""
    return decode_with_codec(blob, declared)[0]


def decode_with_codec(blob: bytes, declared: str = "") -> tuple[str, str]:
    """``decode``, and the codec that reads it (to write a changed copy in the same encoding)."""
    for bom, codec in _BOMS:
        if blob.startswith(bom):
            return blob.decode(codec, errors="replace"), codec
    if declared.lower() in ("utf-16le", "utf-16be", "utf-32le", "utf-32be"):
        return blob.decode(declared, errors="replace"), declared.lower()
    try:
        return blob.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = _legacy_codec(blob)
    return blob.decode(codec, errors="replace"), codec


# Single-byte and CJK codecs for scripts other than Latin. Detection on short samples cannot
# tell the Latin code pages apart (cp1250, cp1252, mac_iceland all "fit" Swedish text), so any
# Latin guess becomes cp1252, by far the most common legacy encoding for en/sv/nl/de files.
_NON_LATIN = ("cp1251", "koi8", "mac_cyrillic", "cp866", "cp855", "iso8859_5", "cp1125", "ptcp154",
              "kz1048", "cp1253", "iso8859_7", "mac_greek", "cp1255", "iso8859_8", "cp1256", "iso8859_6",
              "cp874", "tis_620", "shift_jis", "cp932", "euc_jp", "iso2022", "gb2312", "gbk", "gb18030",
              "big5", "cp950", "euc_kr", "cp949", "johab", "hz", "utf_16", "utf_32")


def _legacy_codec(blob: bytes) -> str:
    best = charset_normalizer.from_bytes(blob[:_DETECT_SAMPLE]).best()
    if best is not None and best.encoding.startswith(_NON_LATIN):
        return str(best.encoding)
    return "cp1252"


def text_encoding(blob: bytes) -> str | None:
    """The encoding of ``blob`` if it is text libmagic did not recognise (e.g. UTF-16 without BOM)."""
    sample = blob[:_DETECT_SAMPLE]
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4:
        if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16le"
        if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16be"
    try:
        decoded = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return None
        decoded = sample[: exc.start].decode("utf-8")
    controls = sum(1 for ch in decoded if ch < " " and ch not in "\t\n\r\f")
    return "utf-8" if decoded and controls <= len(decoded) // 100 else None


def extract_empty(blob: bytes, name: str, encoding: str, context: Context) -> Iterator[Part]:
    return iter(())


def extract_text(blob: bytes, name: str, encoding: str, context: Context) -> Iterator[Part]:
    """Plain text, or a delimited table when the text is one."""
    limits = context.limits
    content = _decode_bounded(blob, encoding, limits)
    stripped = content.lstrip()
    if stripped[:1] in ("{", "["):
        parsed = _parse_json(content, name, limits)
        if parsed is not None:
            yield parsed
            return
    table = _as_table(content, name, limits)
    yield table if table is not None else Part(_normalise_newlines(content), name, Layout.PROSE)


def extract_json(blob: bytes, name: str, encoding: str, context: Context) -> Iterator[Part]:
    """JSON or JSON Lines; falls back to plain text when it does not parse."""
    limits = context.limits
    content = _decode_bounded(blob, encoding, limits)
    parsed = _parse_json(content, name, limits)
    yield parsed if parsed is not None else Part(_normalise_newlines(content), name, Layout.PROSE)


def _decode_bounded(blob: bytes, encoding: str, limits: Limits) -> str:
    content = decode(blob, encoding)
    if len(content) > limits.max_text_chars:
        raise Unscannable(
            f"the text is longer than the limit of {limits.max_text_chars:,} characters, "
            "so it can't be checked completely"
        )
    return content


def _normalise_newlines(content: str) -> str:
    return content.replace("\r\n", "\n").replace("\r", "\n") if "\r" in content else content


# --- tables -----------------------------------------------------------------------------


def _as_table(content: str, name: str, limits: Limits) -> Part | None:
    """Return ``content`` as a TABLE part if it is consistently delimited, else None."""
    sample_lines = [line for line in content[:_DETECT_SAMPLE].splitlines()[:_TABLE_SAMPLE_LINES] if line]
    if len(sample_lines) < 2:
        return None
    delimiter = sniff_delimiter(sample_lines)
    if delimiter is None:
        return None
    if '"' not in content:  # no quoting: every delimiter splits cells, so a translation is exact
        return _unquoted_table(_normalise_newlines(content), delimiter, name, limits)
    try:
        return table_part(csv.reader(io.StringIO(content, newline=""), delimiter=delimiter), name, limits)
    except csv.Error:
        return None


def _unquoted_table(content: str, delimiter: str, name: str, limits: Limits) -> Part:
    """The fast path for tables without quotes: C-speed string operations, no row objects."""
    if content.endswith(RECORD_SEPARATOR):
        content = content[:-1]
    as_bytes = content.isascii() and delimiter.isascii()  # then counted and translated as bytes, in C
    data = content.encode("ascii") if as_bytes else b""
    rows = int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord(RECORD_SEPARATOR))) if as_bytes \
        else content.count(RECORD_SEPARATOR)
    if rows >= limits.max_records:
        raise Unscannable(f"the table has more than {limits.max_records:,} rows, so it can't be checked completely")
    if delimiter != CELL_SEPARATOR:
        if as_bytes:
            table = bytes.maketrans(f"{CELL_SEPARATOR}{delimiter}".encode(), f" {CELL_SEPARATOR}".encode())
            content = data.translate(table).decode("ascii")
        else:
            if CELL_SEPARATOR in content:
                content = content.replace(CELL_SEPARATOR, " ")
            content = content.replace(delimiter, CELL_SEPARATOR)
    first = content.split(RECORD_SEPARATOR, 1)[0]
    cells = [_clean_cell(cell) for cell in first.split(CELL_SEPARATOR)]
    return Part(content, name, Layout.TABLE, tuple(cells) if looks_like_header(cells) else ())


def table_part(rows: Iterable[Sequence[object]], origin: str, limits: Limits) -> Part:
    """A TABLE part from rows of cells (CSV, spreadsheets, tables in documents): one record per row."""
    lines: list[str] = []
    header: tuple[str, ...] = ()
    for index, row in enumerate(rows):
        if index >= limits.max_records:
            raise Unscannable(f"the table has more than {limits.max_records:,} rows, so it can't be checked completely")
        cells = ["" if cell is None else str(cell) for cell in row]
        line = CELL_SEPARATOR.join(cells)
        if line.count(CELL_SEPARATOR) >= len(cells) or RECORD_SEPARATOR in line or "\r" in line:
            cells = [_clean_cell(cell) for cell in cells]  # a cell never spans records or cells
            line = CELL_SEPARATOR.join(cells)
        if index == 0 and looks_like_header(cells):
            header = tuple(_clean_cell(cell) for cell in cells)
        lines.append(line)
    return Part(RECORD_SEPARATOR.join(lines), origin, Layout.TABLE, header)


def sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the sample lines into a consistent number (>= 2) of columns."""
    best: tuple[float, str] | None = None
    for delimiter in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        width = max(set(counts), key=counts.count)
        if width < 2:
            continue
        agreement = counts.count(width) / len(counts)
        if agreement < 0.8:
            continue
        score = agreement + width / 1000  # prefer consistency, then more columns
        if best is None or score > best[0]:
            best = (score, delimiter)
    if best is None:
        return None
    # Prose with commas is not a table: require short-ish cells on average.
    return best[1] if _cells_are_short(lines, best[1]) else None


def _cells_are_short(lines: list[str], delimiter: str) -> bool:
    cells = [cell for row in csv.reader(lines, delimiter=delimiter) for cell in row]
    return bool(cells) and sum(len(c) for c in cells) / len(cells) <= 60


def _clean_cell(cell: str) -> str:
    return " ".join(cell.split())  # a cell never spans records or cells


def looks_like_header(cells: list[str]) -> bool:
    return all(
        cell and not any(ch.isdigit() for ch in cell) and "@" not in cell and len(cell) <= 60
        for cell in cells
    )


# --- JSON -------------------------------------------------------------------------------


def _parse_json(content: str, name: str, limits: Limits) -> Part | None:
    values: list[Any] = []
    try:
        values.append(json.loads(content))
    except RecursionError:
        raise Unscannable("the JSON is nested too deeply to be checked") from None
    except ValueError:
        try:
            values = [json.loads(line) for line in content.splitlines() if line.strip()]
        except (ValueError, RecursionError):
            return None
        if not values:
            return None
    records: list[str] = []
    for value in values:
        _collect_records(value, "", records, 0, limits)
    return Part(RECORD_SEPARATOR.join(records), name, Layout.STRUCTURED)


def _collect_records(value: Any, path: str, out: list[str], depth: int, limits: Limits) -> None:
    """Each object is one record of its scalar fields; nested lists of objects are records too."""
    if depth > limits.max_json_depth:
        raise Unscannable("the JSON is nested too deeply to be checked")
    if len(out) > limits.max_records:
        raise Unscannable(f"the JSON has more than {limits.max_records:,} records, so it can't be checked completely")
    if isinstance(value, dict):
        cells: list[str] = []
        children: list[tuple[str, Any]] = []
        _flatten(value, path, cells, children, depth, limits)
        if cells:
            out.append(CELL_SEPARATOR.join(cells))
        for child_path, child in children:
            _collect_records(child, child_path, out, depth + 1, limits)
    elif isinstance(value, list):
        for item in value:
            _collect_records(item, path, out, depth + 1, limits)
    elif value is not None:
        out.append(_clean_cell(f"{path}: {value}" if path else str(value)))


def _flatten(
    obj: dict[str, Any], prefix: str, cells: list[str], children: list[tuple[str, Any]], depth: int, limits: Limits
) -> None:
    if depth > limits.max_json_depth:
        raise Unscannable("the JSON is nested too deeply to be checked")
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            _flatten(value, path, cells, children, depth + 1, limits)
        elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
            children.append((path, value))
        elif isinstance(value, list):
            cells.append(_clean_cell(f"{key}: " + ", ".join(str(v) for v in value)))
        elif value is not None:
            cells.append(_clean_cell(f"{key}: {value}"))
