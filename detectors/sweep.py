"""Dense table columns, read as columns: a contact list's 400,000 values counted without 400,000 findings.

A large table whose column holds one kind of value in nearly every row (an
e-mail column, a phone column, a name column) is where a per-value scan spends
its time: each value becomes a Python object, is masked and hashed. Here such
a column is learnt from the table's first rows and then read whole, in
Arrow's compute kernels (RE2, hash tables) and numpy, in three steps:

1. **Learn** (``learn``): the scanner runs every recognizer over the first
   ``SAMPLE_ROWS`` rows as usual. A column is *dense* for a detector when at
   least ``DENSE_SHARE`` of its non-empty sampled cells are one whole-cell
   finding of that detector and nothing else was found in it. The recognizer
   then names the *shapes* of its values there (``DetourRecognizer.column_shapes``):
   RE2 patterns of whole cells it certainly accepts, each with one score (a
   phone column's "+46 7d ddd dd dd", an e-mail column's address form with the
   top-level domains seen). A shape is kept only when every sampled cell it
   matches had that one score. A recognizer that accepts a column by its
   statistics (names) gives them too, and they are checked again on every
   ``Statistics.window`` rows: a name column is one only where it looks like one.
2. **Sweep** (``sweep``): each piece of the table is laid out as cells from
   the byte offsets of its tabs and line breaks (``_Grid``, numpy: no
   splitting); the cells of a dense column that match a shape are counted in
   bulk (``Cells``): their rows, their scores, and a number per distinct
   normalised value (the same value, the same number, across the whole
   upload: ``Values``), with a few masked examples. A cell where a number-shaped
   recognizer (cards, national IDs, IBANs: ``SCREENED``) could find a value is
   not swept: its cells are screened with RE2 supersets of those recognizers'
   patterns, or, for a fixed layout such as a phone column's, the layout is
   checked against each screen once (``detectors.screens``). Fixed layouts and
   ASCII name columns are matched a column of bytes at a time (numpy), the rest
   by RE2. Swept cells are blanked (spaces: every offset stays where it was) for
   the recognizers of the swept detectors.
3. **The rest as usual** (``detectors.scan``): the other recognizers read the
   piece as it is, swept cells included (what they find there takes the cell
   back, to be decided one by one); the swept detectors' and the screened
   recognizers read the blanked piece: a cell no shape matched (a typo, an
   unusual layout) and every other column is checked one by one.

Only contact detectors (e-mail, phone, names) are swept: values with a check
digit or a national format (cards, IBANs, national IDs) are always checked one
by one. Raw values exist here only while a piece is swept (and in ``Values``
for the scan's length); what goes out is numbers, masked examples, and the
cells left for their recognizer (``Piece.leftovers``, to ``detectors.scan``).
"""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.findings import CELL_SEPARATOR, EXAMPLE_TRIES, EXAMPLES, Shape, Statistics, Swept
from detectors.masking import mask, normalize
from detectors.recognizers.base import DetourRecognizer
from detectors.screens import DIGITS, could_match, fixed_positions, required

SAMPLE_ROWS = 100  # rows of a table its dense columns are learnt from
MIN_SAMPLED = 40  # non-empty cells a column needs in the sample to be judged
DENSE_SHARE = 0.9  # share of them that must be one whole-cell finding of one detector
MIN_ROWS = 1_000  # smaller tables are scanned value by value (their findings are kept one by one)
TOP_SCORE = 1.0  # no candidate scores higher (``detectors.scan`` caps them there)



@dataclass(frozen=True)
class Column:
    """A dense column of a table: its 0-based index, the detector, and the shapes of its values."""

    index: int
    entity: str
    shapes: tuple[tuple[Shape, float], ...]  # each shape with the score its cells get
    judged: bool = False  # its recognizer accepts columns by statistics: it decides the cells no shape matched
    statistics: Statistics | None = None  # those statistics, checked again on every window of rows


@dataclass(frozen=True, eq=False)
class Cells:
    """The cells of one dense column of a piece counted in bulk: 0-based rows (after the header), sorted,
    with each one's score and value number, and a few masked examples."""

    column: Column
    rows: np.ndarray
    scores: np.ndarray
    values: np.ndarray
    examples: tuple[str, ...]

    def swept(self, part: int, origin: str, first_record: int, without: Iterable[int] = ()) -> list[Swept]:
        """As findings counted in bulk (one ``Swept`` per score), numbered as the scanner numbers the piece's
        records, without the rows ``without`` (cells that went back to being checked one by one)."""
        keep = ~np.isin(self.rows, np.fromiter(without, dtype=np.int64)) if without else slice(None)
        rows, scores, values = self.rows[keep], self.scores[keep], self.values[keep]
        return [Swept(self.column.entity, float(score), part, origin, self.column.index + 1,
                      rows[scores == score] + first_record + 2, values[scores == score], self.examples)
                for score in np.unique(scores)]

    def score_of(self, row: int) -> float | None:
        """The score of a row's cell when it was counted in bulk."""
        at = int(np.searchsorted(self.rows, row))
        return float(self.scores[at]) if at < len(self.rows) and self.rows[at] == row else None


@dataclass(frozen=True)
class Piece:
    """A piece of a table after its sweep."""

    text: str  # with the swept cells blanked (spaces), and a judged column's header too
    cells: tuple[Cells, ...] = ()
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
    header = text[: sampled.body - 1].split(CELL_SEPARATOR)
    rows = text[sampled.body:].split("\n")[:-1]
    starts = list(accumulate((len(row) + 1 for row in rows[:-1]), initial=sampled.body))
    cell_starts: dict[int, list[int]] = {}  # a sampled row's cells' offsets, made when first asked

    def cell_of(line: int, offset: int) -> tuple[int, int, int]:
        """The column of ``offset`` in a row, and its cell's start and end."""
        if line not in cell_starts:
            cell_starts[line] = list(accumulate((len(c) + 1 for c in rows[line].split(CELL_SEPARATOR)),
                                                initial=starts[line]))
        bounds = cell_starts[line]
        column = bisect.bisect_right(bounds, offset) - 1
        return column, bounds[column], bounds[column + 1] - 1

    found: dict[int, list[tuple[str, float, bool, str]]] = defaultdict(list)  # column -> (entity, score, whole, value)
    for start, end, entity, score in candidates:
        if start < sampled.body:
            continue
        column, cell_start, cell_end = cell_of(bisect.bisect_right(starts, start) - 1, start)
        found[column].append((entity, score, start == cell_start and end == cell_end, text[start:end]))
    filled: dict[int, int] = defaultdict(int)
    for row in rows:
        for column, cell in enumerate(row.split(CELL_SEPARATOR)):
            filled[column] += bool(cell)
    columns = []
    for column, hits in sorted(found.items()):
        entities = {entity for entity, _, _, _ in hits}
        if filled[column] < MIN_SAMPLED or len(entities) != 1:
            continue
        entity = entities.pop()
        recognizer = recognizers.get(entity)
        if recognizer is None or not all(whole for _, _, whole, _ in hits) or len(hits) < DENSE_SHARE * filled[column]:
            continue
        scored = [(value, score) for _, score, _, value in hits]
        shapes = _scored_shapes(recognizer.column_shapes([v for v, _ in scored]), scored)
        statistics = recognizer.column_statistics(header[column]) if column < len(header) else None
        if shapes and (statistics is not None or not recognizer.judges_columns()):
            columns.append(Column(column, entity, shapes, recognizer.judges_columns(), statistics))
    return tuple(columns)


def _scored_shapes(shapes: Sequence[Shape] | None, scored: list[tuple[str, float]]) -> tuple[tuple[Shape, float], ...]:
    """Each shape with the one score its sampled cells had; a shape whose cells had several is dropped."""
    if not shapes:
        return ()
    values = pa.array([v for v, _ in scored], pa.string())
    ascii = all(v.isascii() for v, _ in scored)
    kept = []
    for shape in shapes:
        matched = np.asarray(matches(values, shape, ascii), dtype=bool)
        scores = {s for (_, s), m in zip(scored, matched, strict=True) if m}
        if len(scores) == 1:
            kept.append((shape, scores.pop()))
    return tuple(kept)


def matches(values: pa.Array, shape: Shape, ascii: bool = False) -> pa.Array:
    """Where a shape matches whole cells (``ascii``: the values are known to be ASCII)."""
    if ascii and shape.words is not None:
        return pa.array(_AsciiCells(values).words(*shape.words, shape.max_length))
    positions = fixed_positions(shape.pattern)
    if positions is not None and (shape.max_length is None or shape.max_length >= len(positions)):
        return pa.array(_fixed_matches(values, positions))
    matched = pc.match_substring_regex(values, shape.pattern)
    if shape.max_length is not None:
        # bytes, not characters: cheaper, and a value no longer in bytes is no longer in characters either
        matched = pc.and_(matched, pc.less_equal(pc.binary_length(values), pa.scalar(shape.max_length, pa.int32())))
    return pc.fill_null(matched, False)


class Values:
    """Numbers for distinct normalised values, one series per detector, for one scan: the same value is the
    same number in every piece and part. Holds the values while the scan runs; only numbers go out."""

    def __init__(self) -> None:
        self._known: dict[str, pa.Array] = {}

    def ids(self, entity: str, values: pa.Array) -> np.ndarray:
        known = self._known.get(entity)
        if not len(values):
            return np.zeros(0, np.int64)
        if known is None or len(known) * 4 <= len(values):
            # few seen before (the first piece's): numbered with the new ones, in one pass; their numbers are
            # their places, the new ones follow
            chunks = pc.dictionary_encode(pa.chunked_array([values] if known is None else [known, values])).chunks
            self._known[entity] = chunks[-1].dictionary  # (each chunk's: the values up to its end)
            places = [np.asarray(c.indices.to_numpy(zero_copy_only=False), dtype=np.int64) for c in chunks]
            return np.concatenate(places)[len(known) if known is not None else 0:]
        encoded = pc.dictionary_encode(values)
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        distinct = encoded.dictionary
        found = pc.index_in(distinct, value_set=known)
        missing = np.asarray(pc.is_null(found).to_numpy(zero_copy_only=False), dtype=bool)
        numbers = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        if missing.any():
            numbers[missing] = len(known) + np.arange(int(missing.sum()))
            self._known[entity] = pa.concat_arrays([known, distinct.filter(pa.array(missing))])
        return numbers[indices]


@dataclass(frozen=True)
class Screens:
    """Where the screened recognizers (numbers: cards, national IDs, IBANs) could find a value: RE2
    ``patterns`` (supersets of theirs), and the characters none of their values can hold (``unheld``)."""

    patterns: tuple[str, ...] = ()
    unheld: frozenset[str] = frozenset()


def sweep(text: str, columns: Sequence[Column], values: Values, screens: Screens = Screens()) -> Piece:
    """Count the cells of ``columns`` in a piece of a table (``text``: its header line, then rows) that match
    their shapes, in the rows no screen (where another recognizer's value could be) matches. A piece whose
    rows do not all have the same number of cells is left as it is (checked value by value)."""
    header_end = text.find("\n")
    trailing = text.endswith("\n")
    grid = _Grid.of(text[header_end + 1: len(text) - 1 if trailing else len(text)]) if header_end >= 0 else None
    if grid is None or any(c.index >= grid.width for c in columns):
        return Piece(text)
    found: list[tuple[Column, np.ndarray, np.ndarray, pa.Array, tuple[str, ...]]] = []  # rows, scores, values
    leftovers: list[tuple[Column, int, str]] = []
    blanked: dict[int, pa.Array] = {}  # the swept columns, their swept cells blanked
    header = text[:header_end].split(CELL_SEPARATOR)
    for column in columns:
        cell_values = grid.column(column.index)
        hits = [matches(cell_values, shape, grid.ascii) for shape, _ in column.shapes]
        left = _windows(cell_values, column, hits, grid.ascii) if column.statistics is not None \
            else _all_true(len(cell_values))
        screened: dict[str, pa.Array] = {}  # where a screen matches, by screen
        rows_of: list[np.ndarray] = []
        scores_of: list[np.ndarray] = []
        normalised: list[pa.Array] = []
        shown: tuple[str, ...] = ()
        for (shape, score), hit in zip(column.shapes, hits, strict=True):
            matched = pc.and_(left, hit)
            screen = _screen(shape, score, screens)
            if screen is not None:  # a cell where a screened recognizer could find something is not swept
                if screen not in screened:
                    screened[screen] = pc.fill_null(pc.match_substring_regex(cell_values, screen), False)
                matched = pc.and_(matched, pc.invert(screened[screen]))
            rows_matched = np.flatnonzero(np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool))
            if not len(rows_matched):
                continue
            left = pc.and_(left, pc.invert(matched))
            chosen = cell_values if len(rows_matched) == len(cell_values) else pc.filter(cell_values, matched)
            rows_of.append(rows_matched.astype(np.int64))
            scores_of.append(np.full(len(rows_matched), score))
            normalised.append(_normalised(chosen, shape, column.entity, grid.ascii))
            shown = shown or _examples(column.entity, chosen)
        if len(rows_of) == 1:
            found.append((column, rows_of[0], scores_of[0], normalised[0], shown))
        elif rows_of:  # several shapes: in the order of the rows
            order = np.argsort(np.concatenate(rows_of), kind="stable")
            found.append((column, np.concatenate(rows_of)[order], np.concatenate(scores_of)[order],
                          pa.concat_arrays(normalised).take(pa.array(order)), shown))
        if rows_of:
            blanked[column.index] = grid.blanked(column.index, cell_values, rows_of)
        if column.judged:  # its recognizer decides the rest here (where its statistics hold), on the cell alone
            remaining = pc.and_(left, pc.not_equal(cell_values, _EMPTY))
            rows_left = np.flatnonzero(np.asarray(remaining.to_numpy(zero_copy_only=False), dtype=bool))
            leftovers += [(column, int(row), value) for row, value
                          in zip(rows_left, pc.filter(cell_values, remaining).to_pylist(), strict=True)]
            header[column.index] = " " * len(header[column.index])  # its recognizer reads the column no more
    if not found:
        return Piece(text)
    counted = _numbered(found, values)
    body = grid.joined(blanked)
    return Piece(CELL_SEPARATOR.join(header) + "\n" + body + ("\n" if trailing else ""), counted, tuple(leftovers))


class _Grid:
    """The body of a piece of a table as cells, over its UTF-8 bytes: where each cell starts and ends. Its
    columns are Arrow arrays taken from the bytes (one copy, no splitting)."""

    def __init__(self, data: bytes, separators: np.ndarray, width: int, ascii: bool) -> None:
        self.data = data
        self.width = width
        self.ascii = ascii  # bytes are characters
        size = len(separators) + 1  # cells
        bounds = np.empty(2 * size, np.int32)  # each cell's start and end: cells and separators interleaved
        bounds[0], bounds[-1] = 0, len(data)
        bounds[1:-1:2] = separators
        bounds[2::2] = separators + 1
        self.bounds = bounds
        self.cells = pa.Array.from_buffers(pa.string(), 2 * size - 1, [None, pa.py_buffer(bounds), pa.py_buffer(data)])

    @classmethod
    def of(cls, body: str) -> _Grid | None:
        """The grid of a body (rows without the header), or None when it is empty, its rows do not all
        have the same number of cells, or it cannot be written as UTF-8 (a lone surrogate)."""
        if not body:
            return None
        try:
            data = body.encode()
        except UnicodeEncodeError:
            return None
        if len(data) >= 1 << 31:
            return None
        octets = np.frombuffer(data, np.uint8)
        separators = np.flatnonzero(octets - np.uint8(_TAB) < 2).astype(np.int32)  # tab (9) or line break (10)
        breaks = np.flatnonzero(octets[separators] == _NEWLINE)
        width = (len(separators) + 1) // (len(breaks) + 1)
        if width * (len(breaks) + 1) != len(separators) + 1 \
                or not np.array_equal(breaks, np.arange(width - 1, len(separators), width)):
            return None
        return cls(data, separators, width, body.isascii())

    def column(self, index: int) -> pa.Array:
        return self.cells.take(pa.array(np.arange(2 * index, len(self.cells), 2 * self.width)))

    def blanked(self, index: int, values: pa.Array, rows_of: list[np.ndarray]) -> pa.Array:
        """A column (``values``) with the cells of ``rows_of`` as spaces, as many as it had characters."""
        if self.ascii:
            lengths = self.bounds[2 * index + 1::2 * self.width] - self.bounds[2 * index::2 * self.width]
        else:
            lengths = np.asarray(pc.utf8_length(values).to_numpy(zero_copy_only=False), dtype=np.int32)
        offsets = np.zeros(len(lengths) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        spaces = pa.Array.from_buffers(pa.string(), len(lengths),
                                       [None, pa.py_buffer(offsets), pa.py_buffer(b" " * int(offsets[-1]))])
        if sum(len(rows) for rows in rows_of) == len(values):
            return spaces
        return pc.if_else(_swept_mask(rows_of, len(values)), spaces, values)

    def joined(self, replaced: dict[int, pa.Array]) -> str:
        """The body again, with some of its columns replaced (cells of the same lengths: offsets stay)."""
        columns = [replaced[i] if i in replaced else self.column(i) for i in range(self.width)]
        joined = pc.binary_join_element_wise(*columns, CELL_SEPARATOR) if self.width > 1 else columns[0]
        lines = pa.ListArray.from_arrays(pa.array([0, len(joined)], pa.int32()), joined)
        return str(pc.binary_join(lines, "\n")[0].as_py())


_TAB, _NEWLINE = ord(CELL_SEPARATOR), ord("\n")
assert _NEWLINE == _TAB + 1  # one comparison finds both


@functools.lru_cache(maxsize=256)
def _screen(shape: Shape, score: float, screens: Screens) -> str | None:
    """The screens that could match in a cell of ``shape`` (its cells score ``score``), as one RE2 pattern
    (None: not one could, or what they found would not count):

    - those screened recognizers all need digits;
    - a fixed layout (a phone column's) is checked against each screen once, here, instead of on every cell;
    - a cell of a shape scoring ``TOP_SCORE`` that holds a character none of their values can (an e-mail's @) is
      one finding, whatever they find in it: theirs would be shorter and no more certain, and where findings
      overlap the most certain, then the longest, is kept (``scan._without_overlaps``), swept or not."""
    if shape.digitless or (score >= TOP_SCORE and required(shape.pattern) & screens.unheld):
        return None
    positions = fixed_positions(shape.pattern)
    kept = [s for s in screens.patterns if positions is None or could_match(s, positions)]
    return "|".join(f"(?:{s})" for s in kept) or None


def _all_true(size: int) -> pa.Array:
    return pa.array(np.ones(size, dtype=bool))


def _swept_mask(rows_of: list[np.ndarray], size: int) -> pa.Array:
    swept = np.zeros(size, dtype=bool)
    for rows in rows_of:
        swept[rows] = True
    return pa.array(swept)


def _numbered(found: list[tuple[Column, np.ndarray, np.ndarray, pa.Array, tuple[str, ...]]],
              values: Values) -> tuple[Cells, ...]:
    """Value numbers for the swept cells: one lookup per detector and piece, whatever the number of columns."""
    by_entity: dict[str, list[int]] = defaultdict(list)
    for position, (column, *_) in enumerate(found):
        by_entity[column.entity].append(position)
    numbers: dict[int, np.ndarray] = {}
    for entity, positions in by_entity.items():
        arrays = [found[p][3] for p in positions]
        ids = values.ids(entity, pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0])
        for p, chunk in zip(positions, np.split(ids, np.cumsum([len(a) for a in arrays])[:-1]), strict=True):
            numbers[p] = chunk
    return tuple(Cells(column, rows, scores, numbers[p], shown)
                 for p, (column, rows, scores, _, shown) in enumerate(found))


def _windows(values: pa.Array, column: Column, hits: list[pa.Array], ascii: bool = False) -> pa.Array:
    """The rows where a judged column holds what it says, window by window (a name column is judged on every
    ``window`` rows, as the first ones were): a window whose cells fail the statistics is left alone. The
    counts here are never above the recognizer's (``hits``: the shapes' matches, no padding allowed; a given
    name only as the first word, in lower, upper or title case): a window it would take may be left alone
    (its rows are then no names: people are told apart by their other values), never the other way round."""
    statistics = column.statistics
    assert statistics is not None
    cells = _AsciiCells(values) if ascii else None
    filled = cells.filled() if cells is not None else np.asarray(
        pc.not_equal(pc.utf8_trim_whitespace(values), _EMPTY).to_numpy(zero_copy_only=False), dtype=bool)
    shaped = np.zeros(len(values), dtype=bool)
    for hit in hits:
        shaped |= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
    known = shaped
    if statistics.known:
        first = cells.first_words() if cells is not None \
            else pc.list_element(pc.split_pattern(values, " ", max_splits=1), pa.scalar(0, pa.int32()))
        known = shaped & np.asarray(pc.is_in(first, value_set=_known_values(statistics.known)).to_numpy(
            zero_copy_only=False), dtype=bool)
    starts = np.arange(0, len(values), statistics.window)
    n, shaped_n, known_n = (np.add.reduceat(a.astype(np.int64), starts) for a in (filled, shaped, known))
    good = (n < 2) | ((shaped_n >= statistics.min_shaped * n) & (known_n >= statistics.min_known * n))
    return pa.array(np.repeat(good, np.diff(np.r_[starts, len(values)])))


@functools.lru_cache(maxsize=8)
def _known_values(words: frozenset[str]) -> pa.Array:
    cased = {form for word in words for form in (word, word.upper(), word[:1].upper() + word[1:])}
    return pa.array(sorted(cased), pa.string())


_EMPTY = pa.scalar("", pa.string())  # (typed scalars: a Python one is converted on every call)


def _normalised(values: pa.Array, shape: Shape, entity: str, ascii: bool = False) -> pa.Array:
    """Values as ``detectors.masking.normalize`` has them (for the forms shapes allow): same value, same number.
    ``ascii``: the values are known to be ASCII."""
    if shape.normal == "lower":  # Unicode lower case as Python has it
        if ascii:
            return pc.ascii_lower(values)
        lowered = pc.utf8_lower(values)
        # where Arrow's differs (İ, Σ, characters one of them does not know), Python's, value by value
        others = pc.fill_null(pc.match_substring_regex(values, _lowered_apart()), False)
        if pc.any(others).as_py():
            python = [normalize(entity, v) for v in pc.filter(values, others).to_pylist()]
            lowered = pc.replace_with_mask(lowered, others, pa.array(python, pa.string()))
        return lowered
    if shape.normal == "ascii":
        return pc.ascii_lower(values)
    if shape.normal == "phone":  # digits, with + for an international prefix (+ or 00)
        positions = fixed_positions(shape.pattern)
        if positions is not None:
            return _fixed_phones(values, positions)
        for char in shape.remove:
            values = pc.replace_substring(values, char, "")
        if shape.pattern.startswith("^00"):
            values = pc.binary_replace_slice(values, 0, 2, "+")
    return values


class _AsciiCells:
    """String values known to be ASCII, as bytes (numpy): what RE2 and Arrow's string kernels would say of
    them, a column of bytes at a time (property-tested against them)."""

    def __init__(self, values: pa.Array) -> None:
        self.values = values
        self.offsets = _offsets(values)
        base = int(self.offsets[0]) if len(self.offsets) else 0
        self.data: np.ndarray = np.frombuffer(values.buffers()[2], np.uint8)[base:int(self.offsets[-1])] \
            if len(values) else np.zeros(0, np.uint8)
        self.starts = self.offsets[:-1] - base
        self.lengths = np.diff(self.offsets)
        self.valid = _valid(values)

    def count(self, flags: np.ndarray) -> np.ndarray:
        """Per value, how many of its bytes are flagged."""
        running = np.zeros(len(self.data) + 1, np.int32)
        np.cumsum(flags, dtype=np.int32, out=running[1:])
        counts: np.ndarray = running[self.starts + self.lengths] - running[self.starts]
        return counts

    def words(self, most: int, inside: str, max_length: int | None) -> np.ndarray:
        """Where a value is one to ``most`` single-spaced words, each a letter then letters or characters of
        ``inside``: ``Shape.of_words``' pattern."""
        data = self.data
        letter = (data | np.uint8(0x20)) - np.uint8(97) < 26  # A-Z and a-z (the rest wraps above)
        space = data == 32
        allowed = letter | space
        for char in inside.encode("ascii", "ignore"):
            allowed |= data == char
        starts = np.zeros(len(data) + 1, dtype=bool)
        starts[self.starts] = True
        letter_next = np.zeros(len(data), dtype=bool)  # the next byte is a letter of the same value
        letter_next[:-1] = letter[1:] & ~starts[1:-1]
        bad = ~allowed | (space & ~letter_next)
        first = np.zeros(len(self.values), dtype=bool)
        filled = self.lengths > 0
        first[filled] = letter[self.starts[filled]]
        fits: np.ndarray = self.valid & first & (self.count(bad) == 0) & (self.count(space) < most)
        if max_length is not None:
            fits &= self.lengths <= max_length
        return fits

    def filled(self) -> np.ndarray:
        """Where a value is more than whitespace."""
        blank = (self.data - np.uint8(9) < 5) | (self.data - np.uint8(28) < 5)  # 9-13 and 28-32, as Arrow trims
        return self.valid & (self.count(~blank) > 0)

    def first_words(self) -> pa.Array:
        """Each value up to its first space (all of it when it has none)."""
        if not len(self.values):
            return pa.array([], pa.string())
        spaces = np.flatnonzero(self.data == 32)
        at = np.searchsorted(spaces, self.starts)
        found = np.minimum(at, len(spaces) - 1)
        ends = self.starts + self.lengths
        first_end = np.where((at < len(spaces)) & (spaces[found] < ends), spaces[found], ends) if len(spaces) \
            else ends
        bounds = np.empty(2 * len(self.values), np.int32)  # each word, then the rest of its value
        bounds[0::2] = self.offsets[:-1]
        bounds[1::2] = first_end + self.offsets[0]
        spans = pa.Array.from_buffers(pa.string(), 2 * len(self.values) - 1,
                                      [None, pa.py_buffer(bounds), self.values.buffers()[2]])
        return spans.take(pa.array(np.arange(0, len(spans), 2)))


def _offsets(values: pa.Array) -> np.ndarray:
    """A string array's value offsets (into its data buffer), slices included."""
    offsets: np.ndarray = np.frombuffer(values.buffers()[1], np.int32)[values.offset:values.offset + len(values) + 1]
    return offsets


def _matrix(values: pa.Array, width: int) -> np.ndarray:
    """The bytes of string values all ``width`` bytes long, one row each."""
    offsets = _offsets(values)
    data: np.ndarray = np.frombuffer(values.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    assert len(data) == width * len(values), "every value has the width"
    return data.reshape(len(values), width)


def _fixed_matches(values: pa.Array, positions: tuple[str, ...]) -> np.ndarray:
    """Where a fixed layout matches: the cells of its length (in bytes: a multi-byte character matches no
    ASCII position) whose every byte is one its position allows; RE2's answer, one column of bytes at a time."""
    width = len(positions)
    offsets = _offsets(values)
    fits: np.ndarray = (np.diff(offsets) == width) & _valid(values)
    if not fits.any():
        return fits
    rows = np.flatnonzero(fits)
    matrix = _matrix(values if len(rows) == len(values) else values.take(pa.array(rows)), width)
    ok = np.ones(len(rows), dtype=bool)
    for column, allowed in enumerate(positions):
        octets = matrix[:, column]
        if allowed == DIGITS:
            ok &= (octets - np.uint8(48)) < 10  # (wraps below '0')
        elif len(allowed) == 1:
            ok &= octets == ord(allowed)
        else:
            ok &= np.isin(octets, np.frombuffer(allowed.encode(), np.uint8))
    fits[rows] = ok
    return fits


def _valid(values: pa.Array) -> np.ndarray:
    if values.null_count == 0:
        return np.ones(len(values), dtype=bool)
    return np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)



@functools.lru_cache(maxsize=1)
def _lowered_apart() -> str:
    """An RE2 class of the characters Python lower-cases otherwise than Arrow's ``utf8_lower``: İ (two
    characters in Python), Σ (in Python, what follows decides), and whatever their Unicode versions tell
    apart (worked out once, over every code point: ~30 ms)."""
    codes = np.arange(0x110000, dtype=np.uint32)
    codes = codes[(codes < 0xD800) | (codes >= 0xE000)]
    text = codes.tobytes().decode("utf-32-le")
    python = np.frombuffer(text.replace("\u0130", "I").lower().encode("utf-32-le"), np.uint32)
    arrow = np.frombuffer(str(pc.utf8_lower(pa.array([text]))[0].as_py()).encode("utf-32-le"), np.uint32)
    apart = set(codes[python != arrow].tolist()) | {0x130, 0x3A3}
    return "[" + "".join(f"\\x{{{code:x}}}" for code in sorted(apart)) + "]"


def _fixed_phones(values: pa.Array, positions: tuple[str, ...]) -> pa.Array:
    """Phone numbers of one fixed layout (each value ``len(positions)`` ASCII characters), normalised: the
    bytes as a matrix, its digit columns kept, ``+`` first for an international prefix."""
    width = len(positions)
    international = positions[0] == "+" or positions[:2] == ("0", "0")
    skip = 2 if positions[:2] == ("0", "0") else 0
    kept = [i for i, chars in enumerate(positions) if i >= skip and chars[0].isdigit()]
    normal = np.empty((len(values), len(kept) + international), np.uint8)
    normal[:, international:] = _matrix(values, width)[:, kept]
    if international:
        normal[:, 0] = ord("+")
    size = normal.shape[1]
    lengths = np.arange(0, size * (len(values) + 1), size, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(lengths), pa.py_buffer(normal)])


def _examples(entity: str, values: pa.Array) -> tuple[str, ...]:
    shown: list[str] = []
    for raw in values.slice(0, EXAMPLE_TRIES).to_pylist():
        example = mask(entity, raw)
        if example not in shown:
            shown.append(example)
            if len(shown) >= EXAMPLES:
                break
    return tuple(shown)
