"""The redacted copy: the same file with the detected values replaced by a label such as ``[email]``.

For text, CSV/TSV, JSON (and JSON Lines) and XLSX. The values are found by the
same scanner, on the same records the extraction builds (a table row is a
record, a header gives context, a JSON object is a record of ``key: value``
cells), so the copy masks what the decision found. Cells keep their place:
columns, keys and structure stay as they were, so the copy is still useful.

Whoever offers the copy should check it again before handing it out (the
gateway does: a copy is only offered when the check would allow it).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from detectors.errors import Unredactable
from detectors.extract.text import decode_with_codec, looks_like_header, sniff_delimiter
from detectors.findings import CELL_SEPARATOR, RECORD_SEPARATOR, Layout, Part

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_TYPES = ("text/plain", "text/csv", "text/tab-separated-values", "application/csv", "application/json",
              "application/x-ndjson")
REDACTABLE_TYPES = (*TEXT_TYPES, XLSX)
_SAMPLE_LINES = 50

LABELS = {
    "EMAIL_ADDRESS": "[email]", "PHONE_NUMBER": "[phone]", "STREET_ADDRESS": "[address]", "PERSON": "[name]",
    "CREDIT_CARD": "[card number]", "IBAN_CODE": "[IBAN]", "US_SSN": "[ID number]", "SE_PERSONNUMMER": "[ID number]",
    "NL_BSN": "[ID number]", "UK_NINO": "[ID number]",
}
SECRET_LABEL = "[secret]"

Spans = Callable[[Part], list[tuple[int, int, str]]]


@dataclass
class Redacted:
    data: bytes
    media_type: str
    masked: Counter[str] = field(default_factory=Counter)  # entity → how many values were masked


def redactable(mime_type: str) -> bool:
    return mime_type.split(";")[0].strip() in REDACTABLE_TYPES


_CHOSEN_LABELS: ContextVar[Mapping[str, str]] = ContextVar("redaction_labels", default=LABELS)


def label(entity: str) -> str:
    chosen = _CHOSEN_LABELS.get()
    return chosen.get(entity) or LABELS.get(entity, chosen.get("*", SECRET_LABEL))


def redact(blob: bytes, mime_type: str, spans: Spans, entities: Iterable[str],
           labels: Mapping[str, str] | None = None) -> Redacted:
    """The copy of ``blob`` with the values of ``entities`` masked. ``spans`` finds values in a part
    (``Scanner.spans``); ``labels`` are what each entity's values become, in the reader's language (entity →
    label, "*" for the rest; default: English). Raises ``Unredactable`` for other formats and for content
    that doesn't parse."""
    token = _CHOSEN_LABELS.set({**LABELS, **(labels or {})})
    try:
        return _redact(blob, mime_type, spans, entities)
    finally:
        _CHOSEN_LABELS.reset(token)


def _redact(blob: bytes, mime_type: str, spans: Spans, entities: Iterable[str]) -> Redacted:
    wanted = frozenset(entities)
    mime = mime_type.split(";")[0].strip()

    def found(part: Part) -> list[tuple[int, int, str]]:
        return [(start, end, entity) for start, end, entity in spans(part) if entity in wanted]

    if mime == XLSX:
        return _xlsx(blob, found)
    if mime not in TEXT_TYPES:
        raise Unredactable(f"a redacted copy can be made of text, CSV, JSON and Excel (XLSX) files, not {mime}")
    text, codec = decode_with_codec(blob)
    masked: Counter[str] = Counter()
    stripped = text.lstrip()
    out: str | None = None
    if stripped[:1] in ("{", "["):
        out = _json(text, found, masked)
    if out is None:
        out = _delimited(text, found, masked)
    if out is None:
        out = _prose(text, found, masked)
    try:
        data = out.encode(codec)
    except UnicodeEncodeError:
        data = out.encode("utf-8")
    return Redacted(data, mime, masked)


# --- cells: what is scanned, and where each value goes back -----------------------------------


class _Cells:
    """Rows of cells laid out as a TABLE/STRUCTURED part, with each cell's offset in the part's text."""

    def __init__(self, rows: list[list[str]], layout: Layout, header: tuple[str, ...] = ()) -> None:
        self.rows = [[" ".join(cell.split()) for cell in row] for row in rows]  # as the extraction does
        self.starts: list[int] = []  # offset of each cell, row by row
        self.index: list[tuple[int, int]] = []  # (row, column) of each cell
        lines, offset = [], 0
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                self.starts.append(offset)
                self.index.append((r, c))
                offset += len(cell) + 1  # the separator after it
            lines.append(CELL_SEPARATOR.join(row))
            if not row:
                offset += 1
        self.part = Part(RECORD_SEPARATOR.join(lines), "redaction", layout, header)

    def redacted(self, found: list[tuple[int, int, str]], masked: Counter[str]) -> dict[tuple[int, int], str]:
        """(row, column) → the cell's new text, for the cells that held a value."""
        per_cell: dict[int, list[tuple[int, int, str]]] = {}
        for start, end, entity in found:
            first = bisect.bisect_right(self.starts, start) - 1
            last = bisect.bisect_right(self.starts, max(start, end - 1)) - 1
            for cell in range(max(first, 0), last + 1):  # a value across cells masks its piece of each
                lo = max(start, self.starts[cell]) - self.starts[cell]
                hi = min(end, self.starts[cell] + len(self._text(cell))) - self.starts[cell]
                if hi > lo:
                    per_cell.setdefault(cell, []).append((lo, hi, entity))
            masked[entity] += 1
        return {self.index[cell]: _replace(self._text(cell), spans) for cell, spans in per_cell.items()}

    def _text(self, cell: int) -> str:
        row, column = self.index[cell]
        return self.rows[row][column]


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, position = [], 0
    for start, end, entity in sorted(spans):
        if start < position:
            continue
        out.append(text[position:start])
        out.append(label(entity))
        position = end
    out.append(text[position:])
    return "".join(out)


# --- formats --------------------------------------------------------------------------------


def _prose(text: str, found: Callable[[Part], list[tuple[int, int, str]]], masked: Counter[str]) -> str:
    crlf = "\r\n" in text
    normal = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    spans = found(Part(normal, "redaction", Layout.PROSE))
    masked.update(entity for _, _, entity in spans)
    out = _replace(normal, spans)
    return out.replace("\n", "\r\n") if crlf else out


def _delimited(text: str, found: Callable[[Part], list[tuple[int, int, str]]], masked: Counter[str]) -> str | None:
    sample = [line for line in text[: 256 * 1024].splitlines()[:_SAMPLE_LINES] if line]
    delimiter = sniff_delimiter(sample) if len(sample) >= 2 else None
    if delimiter is None:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return None
    header = tuple(" ".join(c.split()) for c in rows[0]) if rows and looks_like_header(rows[0]) else ()
    cells = _Cells(rows, Layout.TABLE, header)
    changed = cells.redacted(found(cells.part), masked)
    for (r, c), value in changed.items():
        rows[r][c] = value
    out = io.StringIO(newline="")
    terminator = "\r\n" if "\r\n" in text[:65536] else "\n"
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    result = out.getvalue()
    return result if text.endswith(("\n", "\r")) or not result.endswith(terminator) else result[: -len(terminator)]


@dataclass
class _Leaf:
    container: dict[str, Any] | list[Any]
    key: str | int
    prefix: str  # "key: " as scanned before the value


def _json(text: str, found: Callable[[Part], list[tuple[int, int, str]]], masked: Counter[str]) -> str | None:
    lines = False
    try:
        documents = [json.loads(text)]
    except (ValueError, RecursionError):
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
            lines = True
        except (ValueError, RecursionError):
            return None
    holder: list[Any] = documents  # the documents themselves may be scalars: hold them in a list
    rows: list[list[str]] = []
    leaves: list[list[_Leaf]] = []
    for index in range(len(holder)):
        _collect(holder, index, "", rows, leaves, 0)
    cells = _Cells(rows, Layout.STRUCTURED)
    for (r, c), value in cells.redacted(found(cells.part), masked).items():
        leaf = leaves[r][c]
        new = value[len(leaf.prefix):] if value.startswith(leaf.prefix) else value
        leaf.container[leaf.key] = new  # type: ignore[index]
    if lines:
        return "\n".join(json.dumps(document, ensure_ascii=False) for document in holder) + "\n"
    indent = 2 if "\n" in text.strip() else None
    return json.dumps(holder[0], ensure_ascii=False, indent=indent) + ("\n" if text.endswith("\n") else "")


def _collect(container: Any, key: str | int, name: str, rows: list[list[str]], leaves: list[list[_Leaf]],
             depth: int) -> None:
    """Each object is a record of its scalar fields (``key: value``); lists and nested objects recurse."""
    if depth > 200:
        raise Unredactable("the JSON is nested too deeply to make a redacted copy")
    value = container[key]
    if isinstance(value, dict):
        row: list[str] = []
        row_leaves: list[_Leaf] = []
        children: list[tuple[str, str]] = []
        for child_key, child in value.items():
            if isinstance(child, (dict, list)):
                children.append((child_key, str(child_key)))
            elif child is not None and not isinstance(child, bool):
                prefix = f"{child_key}: "
                row.append(prefix + str(child))
                row_leaves.append(_Leaf(value, child_key, prefix))
        if row:
            rows.append(row)
            leaves.append(row_leaves)
        for child_key, child_name in children:
            _collect(value, child_key, child_name, rows, leaves, depth + 1)
    elif isinstance(value, list):
        for index in range(len(value)):
            _collect(value, index, name, rows, leaves, depth + 1)
    elif value is not None and not isinstance(value, bool):
        prefix = f"{name}: " if name else ""
        rows.append([prefix + str(value)])
        leaves.append([_Leaf(container, key, prefix)])


def _xlsx(blob: bytes, found: Callable[[Part], list[tuple[int, int, str]]]) -> Redacted:
    import openpyxl  # uses defusedxml when it is installed, as it is here

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(blob), data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise Unredactable("the workbook can't be opened to make a redacted copy") from exc
    masked: Counter[str] = Counter()
    for sheet in workbook.worksheets:
        grid = [list(row) for row in sheet.iter_rows()]
        rows = [["" if cell.value is None else str(cell.value) for cell in row] for row in grid]
        if not rows:
            continue
        header = tuple(" ".join(c.split()) for c in rows[0]) if looks_like_header(rows[0]) else ()
        cells = _Cells(rows, Layout.TABLE, header)
        for (r, c), value in cells.redacted(found(cells.part), masked).items():
            grid[r][c].value = value
    out = io.BytesIO()
    workbook.save(out)
    return Redacted(out.getvalue(), XLSX, masked)
