"""Dense table columns, read as columns: a contact list's 400,000 values counted without 400,000 findings.

A large table whose column holds one kind of value in nearly every row (an
e-mail column, a phone column, a name column) is where a per-value scan spends
its time: each value becomes a Python object, is masked and hashed. Here such
a column is learnt from the table's first rows and then read whole, in
Arrow's compute kernels (RE2, hash tables), in three steps:

1. **Learn** (``learn``): the scanner runs every recognizer over the first
   ``SAMPLE_ROWS`` rows as usual. A column is *dense* for a detector when at
   least ``DENSE_SHARE`` of its non-empty sampled cells are one whole-cell
   finding of that detector and nothing else was found in it. The recognizer
   then names the *shapes* of its values there (``DetourRecognizer.column_shapes``):
   RE2 patterns of whole cells it certainly accepts, each with one score (a
   phone column's "+46 7d ddd dd dd", an e-mail column's address form with the
   top-level domains seen). A shape is kept only when every sampled cell it
   matches had that one score.
2. **Sweep** (``sweep``): each piece of the table is split into columns; the
   cells of a dense column that match a shape are counted as findings of its
   detector, in bulk (``Swept``): the records they are in and a number per
   distinct normalised value (the same value, the same number, across the
   whole upload), and a few masked examples. Values never leave this module.
3. **The rest as usual**: those cells are blanked (an empty cell, the rows
   and columns unchanged) and the piece goes through the recognizers like any
   other: a cell that did not match (a typo, an unusual layout) is checked one
   by one, and so is every other column.

Only contact detectors (e-mail, phone, names) are swept: values with a check
digit or a national format (cards, IBANs, national IDs) are always checked one
by one. A swept value is counted as its column says: a cell shaped like the
column's values is that column's kind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.findings import CELL_SEPARATOR, EXAMPLES, Layout, Shape, Swept
from detectors.masking import mask
from detectors.recognizers.base import DetourRecognizer

SAMPLE_ROWS = 100  # rows of a table its dense columns are learnt from
MIN_SAMPLED = 40  # non-empty cells a column needs in the sample to be judged
DENSE_SHARE = 0.9  # share of them that must be one whole-cell finding of one detector
MIN_ROWS = 1_000  # smaller tables are scanned value by value (their findings are kept one by one)
EXAMPLE_TRIES = 4 * EXAMPLES  # values masked at most per swept column, looking for EXAMPLES distinct masks



@dataclass(frozen=True)
class Column:
    """A dense column of a table: its 0-based index, the detector, and the shapes of its values."""

    index: int
    entity: str
    shapes: tuple[tuple[Shape, float], ...]  # each shape with the score its cells get
    judged: bool = False  # its recognizer accepts columns by statistics: it decides the cells no shape matched


@dataclass(frozen=True)
class Piece:
    """A piece of a table after its sweep."""

    text: str  # with the swept cells blanked (and the header of a column left with nothing to find)
    swept: tuple[Swept, ...] = ()
    leftovers: tuple[tuple[Column, int, str], ...] = ()  # cells of judged columns no shape matched: row, value


@dataclass(frozen=True)
class Sample:
    """The first rows of a table, as the scanner's learning step sees them."""

    text: str  # the header line and up to SAMPLE_ROWS rows
    body: int  # offset of the first row after the header


def sample(text: str) -> Sample | None:
    """The sample of a table part's text (the first line its header), or None when it is too small to sweep."""
    header_end = text.find("\n")
    if header_end < 0:
        return None
    end = header_end
    for _ in range(SAMPLE_ROWS):
        end = text.find("\n", end + 1)
        if end < 0:
            return None  # fewer rows than the sample: not a table worth sweeping
    sampled = Sample(text[: end + 1], header_end + 1)
    for _ in range(MIN_ROWS - SAMPLE_ROWS):
        end = text.find("\n", end + 1)
        if end < 0:
            return None
    return sampled


def learn(sampled: Sample, candidates: Iterable[tuple[int, int, str, float]],
          recognizers: dict[str, DetourRecognizer]) -> tuple[Column, ...]:
    """The dense columns of a table, from the candidates the recognizers accepted in its sample:
    ``(start, end, entity, score)`` with offsets in ``sampled.text``. ``recognizers``: the recognizer of each
    sweepable detector."""
    text = sampled.text
    rows = text[sampled.body:].split("\n")[:-1]
    cells = [row.split(CELL_SEPARATOR) for row in rows]
    starts: list[int] = []
    position = sampled.body
    for row in rows:
        starts.append(position)
        position += len(row) + 1
    found: dict[int, list[tuple[str, float, bool, str]]] = defaultdict(list)  # column -> (entity, score, whole, value)
    for start, end, entity, score in candidates:
        if start < sampled.body:
            continue
        line = _row_of(starts, start)
        column = text.count(CELL_SEPARATOR, starts[line], start)
        cell = cells[line][column] if column < len(cells[line]) else ""
        cell_start = starts[line] + sum(len(c) + 1 for c in cells[line][:column])
        whole = start == cell_start and end == cell_start + len(cell)
        found[column].append((entity, score, whole, text[start:end]))
    columns = []
    for column, hits in sorted(found.items()):
        filled = sum(1 for row in cells if column < len(row) and row[column])
        entities = {entity for entity, _, _, _ in hits}
        if filled < MIN_SAMPLED or len(entities) != 1:
            continue
        entity = entities.pop()
        recognizer = recognizers.get(entity)
        if recognizer is None or not all(whole for _, _, whole, _ in hits) or len(hits) < DENSE_SHARE * filled:
            continue
        scored = [(value, score) for _, score, _, value in hits]
        shapes = _scored_shapes(recognizer.column_shapes([v for v, _ in scored]), scored)
        if shapes:
            columns.append(Column(column, entity, shapes, recognizer.judges_columns()))
    return tuple(columns)


def _row_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo


def _scored_shapes(shapes: Sequence[Shape] | None, scored: list[tuple[str, float]]) -> tuple[tuple[Shape, float], ...]:
    """Each shape with the one score its sampled cells had; a shape whose cells had several is dropped."""
    if not shapes:
        return ()
    values = pa.array([v for v, _ in scored], pa.string())
    kept = []
    for shape in shapes:
        matched = np.asarray(matches(values, shape), dtype=bool)
        scores = {s for (_, s), m in zip(scored, matched, strict=True) if m}
        if len(scores) == 1:
            kept.append((shape, scores.pop()))
    return tuple(kept)


def matches(values: pa.Array, shape: Shape) -> pa.Array:
    matched = pc.match_substring_regex(values, shape.pattern)
    if shape.max_length is not None:
        # bytes, not characters: cheaper, and a value no longer in bytes is no longer in characters either
        matched = pc.and_(matched, pc.less_equal(pc.binary_length(values), pa.scalar(shape.max_length, pa.int32())))
    if shape.counted is not None:
        substring, most = shape.counted
        matched = pc.and_(matched, pc.less_equal(pc.count_substring(values, substring), pa.scalar(most, pa.int32())))
    return pc.fill_null(matched, False)


class Values:
    """Numbers for distinct normalised values, one series per detector, for one scan: the same value is the
    same number in every piece and part. Holds the values while the scan runs; only numbers go out."""

    def __init__(self) -> None:
        self._known: dict[str, pa.Array] = {}

    def ids(self, entity: str, values: pa.Array) -> np.ndarray:
        encoded = pc.dictionary_encode(values)
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        distinct = encoded.dictionary
        known = self._known.get(entity)
        if known is None:
            self._known[entity] = distinct
            return indices
        found = pc.index_in(distinct, value_set=known)
        missing = np.asarray(pc.is_null(found).to_numpy(zero_copy_only=False), dtype=bool)
        numbers = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        if missing.any():
            numbers[missing] = len(known) + np.arange(int(missing.sum()))
            self._known[entity] = pa.concat_arrays([known, distinct.filter(pa.array(missing))])
        return numbers[indices]


def sweep(text: str, columns: Sequence[Column], values: Values, part: int, origin: str, first_record: int) -> Piece:
    """Count the cells of ``columns`` in a piece of a table (``text``: its header line, then rows) that match
    their shapes. ``first_record``: as the scanner numbers the piece's records. A piece whose rows do not
    all have the same number of cells is left as it is (checked value by value)."""
    header_end = text.find("\n")
    trailing = text.endswith("\n")
    body_text = text[header_end + 1: len(text) - 1 if trailing else len(text)]
    if header_end < 0 or not body_text:
        return Piece(text)
    rows = pc.split_pattern(pa.array([body_text], pa.string()), "\n").flatten()
    cells = pc.split_pattern(rows, CELL_SEPARATOR)
    widths = pc.min_max(pc.list_value_length(cells))
    width = widths["max"].as_py()
    if widths["min"].as_py() != width or any(c.index >= width for c in columns):
        return Piece(text)
    by_index = [pc.list_element(cells, pa.scalar(i, pa.int32())) for i in range(width)]
    swept: list[Swept] = []
    emptied: set[int] = set()
    leftovers: list[tuple[Column, int, str]] = []
    for column in columns:
        cell_values = by_index[column.index]
        left = pa.array(np.ones(len(cell_values), dtype=bool))
        for shape, score in column.shapes:
            matched = pc.and_(left, matches(cell_values, shape))
            rows_matched = np.flatnonzero(np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool))
            if not len(rows_matched):
                continue
            left = pc.and_(left, pc.invert(matched))
            chosen = cell_values if len(rows_matched) == len(cell_values) else pc.filter(cell_values, matched)
            numbers = values.ids(column.entity, _normalised(chosen, shape))
            swept.append(Swept(column.entity, score, part, origin, column.index + 1,
                               rows_matched.astype(np.int64) + first_record + 2, numbers,
                               _examples(column.entity, chosen), Layout.TABLE))
        remaining = pc.if_else(left, cell_values, _EMPTY)
        by_index[column.index] = remaining
        filled = pc.not_equal(remaining, _EMPTY)
        if column.judged:  # its recognizer decides the rest here, without the column's statistics
            emptied.add(column.index)
            rows_left = np.flatnonzero(np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool))
            leftovers += [(column, int(row), value) for row, value
                          in zip(rows_left, pc.filter(remaining, filled).to_pylist(), strict=True)]
        elif not pc.any(filled).as_py():
            emptied.add(column.index)
    if not swept:
        return Piece(text)
    joined = pc.binary_join_element_wise(*by_index, CELL_SEPARATOR) if width > 1 else by_index[0]
    body = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(joined)], pa.int32()), joined), "\n")[0].as_py()
    header = text[:header_end].split(CELL_SEPARATOR)
    header = [("" if i in emptied else name) for i, name in enumerate(header)]  # an emptied column has nothing
    return Piece(CELL_SEPARATOR.join(header) + "\n" + body + ("\n" if trailing else ""), tuple(swept),
                 tuple(leftovers))


_EMPTY = pa.scalar("", pa.string())  # (a typed scalar: a Python one is converted on every call)


def _normalised(values: pa.Array, shape: Shape) -> pa.Array:
    """Values as ``detectors.masking.normalize`` has them (for the forms shapes allow): same value, same number."""
    if shape.normal == "lower":
        return pc.utf8_lower(values)
    if shape.normal == "ascii":
        return pc.ascii_lower(values)
    if shape.normal == "phone":  # digits, with + for an international prefix (+ or 00)
        for char in shape.remove:
            values = pc.replace_substring(values, char, "")
        if shape.pattern.startswith("^00"):
            values = pc.binary_replace_slice(values, 0, 2, "+")
    return values


def _examples(entity: str, values: pa.Array) -> tuple[str, ...]:
    shown: list[str] = []
    for raw in values.slice(0, EXAMPLE_TRIES).to_pylist():
        example = mask(entity, raw)
        if example not in shown:
            shown.append(example)
            if len(shown) >= EXAMPLES:
                break
    return tuple(shown)
