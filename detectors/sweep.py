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
   matches had that one score. A recognizer that accepts a column by its
   statistics (names) gives them too, and they are checked again on every
   ``Statistics.window`` rows: a name column is one only where it looks like one.
2. **Sweep** (``sweep``): each piece of the table is split into columns; the
   cells of a dense column that match a shape are counted in bulk (``Cells``):
   their rows, their scores, and a number per distinct normalised value (the
   same value, the same number, across the whole upload: ``Values``), with a
   few masked examples. They are blanked (spaces: every offset stays where it
   was) for the recognizers of the swept detectors.
3. **The rest as usual** (``detectors.scan``): the other recognizers read the
   piece as it is, swept cells included (a national ID written like a phone
   number is still found, and the cell goes back to being checked one by
   one); the swept detectors' recognizers read the blanked piece: a cell no
   shape matched (a typo, an unusual layout) and every other column is
   checked one by one.

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

SAMPLE_ROWS = 100  # rows of a table its dense columns are learnt from
MIN_SAMPLED = 40  # non-empty cells a column needs in the sample to be judged
DENSE_SHARE = 0.9  # share of them that must be one whole-cell finding of one detector
MIN_ROWS = 1_000  # smaller tables are scanned value by value (their findings are kept one by one)



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


def sweep(text: str, columns: Sequence[Column], values: Values, screen: str | None = None) -> Piece:
    """Count the cells of ``columns`` in a piece of a table (``text``: its header line, then rows) that match
    their shapes, in the rows ``screen`` (an RE2 pattern: where another recognizer's value could be) does
    not match. A piece whose rows do not all have the same number of cells is left as it is (checked value
    by value)."""
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
    found: list[tuple[Column, np.ndarray, np.ndarray, pa.Array, tuple[str, ...]]] = []  # rows, scores, values
    leftovers: list[tuple[Column, int, str]] = []
    header = text[:header_end].split(CELL_SEPARATOR)
    for column in columns:
        cell_values = by_index[column.index]
        hits = [matches(cell_values, shape) for shape, _ in column.shapes]
        left = _windows(cell_values, column, hits) if column.statistics is not None else _all_true(len(cell_values))
        if screen is not None and not all(shape.digitless for shape, _ in column.shapes):
            # a cell where a screened recognizer could find something (they all need digits) is not swept
            left = pc.and_(left, pc.invert(pc.fill_null(pc.match_substring_regex(cell_values, screen), False)))
        rows_of: list[np.ndarray] = []
        scores_of: list[np.ndarray] = []
        normalised: list[pa.Array] = []
        shown: tuple[str, ...] = ()
        for (shape, score), hit in zip(column.shapes, hits, strict=True):
            matched = pc.and_(left, hit)
            rows_matched = np.flatnonzero(np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool))
            if not len(rows_matched):
                continue
            left = pc.and_(left, pc.invert(matched))
            chosen = cell_values if len(rows_matched) == len(cell_values) else pc.filter(cell_values, matched)
            rows_of.append(rows_matched.astype(np.int64))
            scores_of.append(np.full(len(rows_matched), score))
            normalised.append(_normalised(chosen, shape, column.entity))
            shown = shown or _examples(column.entity, chosen)
        if len(rows_of) == 1:
            found.append((column, rows_of[0], scores_of[0], normalised[0], shown))
        elif rows_of:  # several shapes: in the order of the rows
            order = np.argsort(np.concatenate(rows_of), kind="stable")
            found.append((column, np.concatenate(rows_of)[order], np.concatenate(scores_of)[order],
                          pa.concat_arrays(normalised).take(pa.array(order)), shown))
        if rows_of:
            blank = pc.binary_repeat(_SPACE, pc.utf8_length(cell_values))  # the same length: offsets stay
            by_index[column.index] = pc.if_else(_swept_mask(rows_of, len(cell_values)), blank, cell_values)
        if column.judged:  # its recognizer decides the rest here (where its statistics hold), on the cell alone
            remaining = pc.and_(left, pc.not_equal(cell_values, _EMPTY))
            rows_left = np.flatnonzero(np.asarray(remaining.to_numpy(zero_copy_only=False), dtype=bool))
            leftovers += [(column, int(row), value) for row, value
                          in zip(rows_left, pc.filter(cell_values, remaining).to_pylist(), strict=True)]
            header[column.index] = " " * len(header[column.index])  # its recognizer reads the column no more
    if not found:
        return Piece(text)
    counted = _numbered(found, values)
    joined = pc.binary_join_element_wise(*by_index, CELL_SEPARATOR) if width > 1 else by_index[0]
    body = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(joined)], pa.int32()), joined), "\n")[0].as_py()
    return Piece(CELL_SEPARATOR.join(header) + "\n" + body + ("\n" if trailing else ""), counted, tuple(leftovers))


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


def _windows(values: pa.Array, column: Column, hits: list[pa.Array]) -> pa.Array:
    """The rows where a judged column holds what it says, window by window (a name column is judged on every
    ``window`` rows, as the first ones were): a window whose cells fail the statistics is left alone. The
    counts here are never above the recognizer's (``hits``: the shapes' matches, no padding allowed; a given
    name only as the first word, in lower, upper or title case): a window it would take may be left alone
    (its rows are then no names: people are told apart by their other values), never the other way round."""
    statistics = column.statistics
    assert statistics is not None
    filled = np.asarray(pc.not_equal(pc.utf8_trim_whitespace(values), _EMPTY).to_numpy(zero_copy_only=False),
                        dtype=bool)
    shaped = np.zeros(len(values), dtype=bool)
    for hit in hits:
        shaped |= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
    known = shaped
    if statistics.known:
        first = pc.list_element(pc.split_pattern(values, " ", max_splits=1), pa.scalar(0, pa.int32()))
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
_SPACE = pa.scalar(" ", pa.string())


def _normalised(values: pa.Array, shape: Shape, entity: str) -> pa.Array:
    """Values as ``detectors.masking.normalize`` has them (for the forms shapes allow): same value, same number."""
    if shape.normal == "lower":  # Unicode lower case as Python has it (Arrow's differs: final sigma, İ)
        lowered = pc.ascii_lower(values)
        others = pc.invert(pc.string_is_ascii(values))
        if pc.any(others).as_py():
            python = [normalize(entity, v) for v in pc.filter(values, others).to_pylist()]
            lowered = pc.replace_with_mask(lowered, others, pa.array(python, pa.string()))
        return lowered
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


def superset(pattern: str, flags: int = 0, ascii_digits: bool = False) -> str:
    """An RE2 pattern matching wherever a Python ``re``/``regex`` pattern of a recognizer could match (more,
    never less): lookarounds dropped, a backreference as the group it refers to, possessive quantifiers as
    plain ones, ``\\w``, ``\\d`` and ``\\s`` as wide as Python's (Unicode). For a dense column's screen: a
    row where it matches nothing holds no value of that recognizer. ``ascii_digits``: for text that holds no
    other digits (a swept cell's shapes allow none), ``\\d`` as ``[0-9]``, and no case folding for digits."""
    wide = dict(_WIDE, **({"\\d": "[0-9]"} if ascii_digits else {}))
    groups: list[str] = []  # the text of each capturing group, by number
    out: list[str] = []
    i = 0
    opened: list[tuple[int, bool]] = []  # (where in out, capturing)
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i:i + 2]
            if escape[1:].isdigit() and escape[1] != "0":
                number = int(escape[1])
                out.append(f"(?:{groups[number - 1]})" if number <= len(groups) else "[\\s\\S]*")
            else:
                out.append(wide.get(escape, escape))
            i += 2
            continue
        if char == "[":
            end = _class_end(pattern, i)
            body = pattern[i + 1:end]
            if body.startswith("^") and "\\" in body:
                out.append("[\\s\\S]")  # a negated class with shorthands: anything (wider)
            else:
                for short, wider in (("\\w", "\\pL\\pN_"), ("\\d", "0-9" if ascii_digits else "\\pN"),
                                     ("\\s", "\\s\\pZ")):
                    body = body.replace(short, wider)
                out.append(f"[{body}]")
            i = end + 1
            continue
        if pattern.startswith("(?<![", i) and pattern[_class_end(pattern, i + 4) + 1:][:1] == ")":
            end = _class_end(pattern, i + 4)  # not after one of a class: after none of it, or at the start
            body = pattern[i + 5:end]
            for short, narrow in (("\\w", "A-Za-z0-9_"), ("\\d", "0-9"), ("\\s", " \\t\\n\\r\\f\\v")):
                body = body.replace(short, narrow)  # (narrower here, so the complement is wider)
            out.append(f"(?:^|[{body[1:]}])" if body.startswith("^") else f"(?:^|[^{body}])")
            i = end + 2
            continue
        if pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            i = _group_end(pattern, i) + 1  # a lookaround: dropped
            continue
        if char == "(":
            capturing = not pattern.startswith("(?", i) or pattern.startswith("(?P<", i)
            opened.append((len(out), capturing))
            if pattern.startswith("(?>", i):  # an atomic group
                out.append("(?:")
                i += 3
                continue
            out.append(char)
            i += 1
            continue
        if char == ")" and opened:
            start, capturing = opened.pop()
            out.append(char)
            if capturing:
                groups.append("".join(out[start + 1:-1]))
            i += 1
            continue
        if char == "+" and i and pattern[i - 1] in "+*?}" and (i < 2 or pattern[i - 2] != "\\"):
            i += 1  # possessive: as a plain quantifier
            continue
        out.append(char)
        i += 1
    prefix = "".join(flag for bit, flag in ((2, "i"), (8, "m"), (16, "s")) if flags & bit)
    return (f"(?{prefix})" if prefix else "") + "".join(out)


_WIDE = {"\\w": "[\\pL\\pN_]", "\\d": "\\pN", "\\s": "[\\s\\pZ]", "\\b": "", "\\B": "", "\\Z": "\\z"}


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i


def _group_end(pattern: str, start: int) -> int:
    depth, i = 0, start
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            i = _class_end(pattern, i) + 1
            continue
        if pattern[i] == "(":
            depth += 1
        elif pattern[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(pattern) - 1
