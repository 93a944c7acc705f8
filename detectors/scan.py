"""The scan stage: parts in, findings out. Every registered recognizer runs over each part.

Tiered and linear: tier 0 (``detectors.prefilter``) runs every recognizer's
triggers over a part in one Hyperscan pass; each recognizer's own patterns and
validation (checksums, formats) then run only in the windows around its
triggers. Presidio's recognizer model is reused as it is (patterns, validation,
context words, scores), but not its NLP pipeline or its context enhancer:
context is scored here in a bounded window around each candidate (and, in
tables, from the column header).

``Scanner.scan`` takes the parts as extraction yields them and yields the
findings piece by piece, with how far it got (``Progress``); it knows nothing of
policies. The caller decides when it has seen enough (an early decision) and
closes the generator, which closes the extraction behind it.

The raw matched text exists only inside ``_finding`` (and, for a table's dense
columns, inside ``detectors.sweep`` and ``_counted``): it is masked and hashed
or numbered there, and only masked examples, salted digests and value numbers
leave this module.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

import numpy as np
import pyarrow as pa
import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer

from detectors import edm, entities, screens, sweep
from detectors.edm import FingerprintSet
from detectors.extract import open_upload
from detectors.findings import (
    CELL_SEPARATOR,
    EXAMPLE_TRIES,
    EXAMPLES,
    Finding,
    Layout,
    Location,
    Part,
    ScanResult,
    Skipped,
    Swept,
)
from detectors.limits import Limits
from detectors.masking import mask, normalize
from detectors.prefilter import WHOLE, Prefilter
from detectors.recognizers.base import CERTAIN, SHAPE_ONLY, DetourRecognizer, analyze_range, traits
from detectors.registry import Registry

log = logging.getLogger(__name__)

REGEX_TIMEOUT_SECONDS = 5.0  # one recognizer pattern on one window; a timeout is a detector error, never a pass
ACCEPT_SCORE = 0.5  # a candidate at or above this is a finding
TOP_SCORE = sweep.TOP_SCORE  # no candidate is surer (a validated value)
CONTEXT_BOOST = 0.35  # added to a weak candidate when a context word is near (Presidio's factor)
CONTEXT_WINDOW = 48  # characters either side of a candidate searched for context words


class ValueHasher:
    """Keyed hash (BLAKE2b in keyed mode, a MAC) of a normalised value: IT correlates findings without it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the hash key must be at least 16 bytes")
        self._key = key if len(key) <= 64 else hashlib.sha256(key).digest()

    def __call__(self, entity: str, normalised: str) -> str:
        return hashlib.blake2b(f"{entity}\x00{normalised}".encode(), key=self._key, digest_size=12).hexdigest()


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    entity: str
    score: float


@dataclass(frozen=True)
class Progress:
    """What one step of a scan found, and how far the scan has come."""

    findings: list[Finding] = field(default_factory=list)  # found in this step
    parts: int = 0  # parts (with text) seen so far, the current one included
    characters: int = 0  # characters of text seen so far
    more: bool = False  # more of the upload follows: stopping now leaves some of it unread
    swept: tuple[Swept, ...] = ()  # found in this step in dense table columns, counted in bulk


# A larger part is scanned in pieces cut between records: the first of about PIECE_CHARS, each next
# one twice as large up to MAX_PIECE_CHARS. An early decision usually comes after the first piece;
# when it does not, larger pieces keep the per-piece costs (column statistics, windows) small. A table
# whose dense columns are swept (``detectors.sweep``) goes on in pieces of SWEPT_PIECE_CHARS: each piece
# looks its values up among all those seen before it, so fewer pieces cost less (measured: the same peak
# memory as pieces of half the size on a 40 MB contact list; twice as much with pieces twice as large).
PIECE_CHARS = 1 << 16
MAX_PIECE_CHARS = 1 << 22
SWEPT_PIECE_CHARS = 1 << 23


class _Lines:
    """How many line breaks come before an offset of a large part's text: counted when a finding first needs a
    record number, and only as far as asked (a part without findings is never counted)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._upto = 0
        self._count = 0

    def before(self, offset: int) -> int:
        if offset < self._upto:  # asked out of order: count again from the start
            self._upto = self._count = 0
        self._count += self.text.count("\n", self._upto, offset)
        self._upto = offset
        return self._count


@dataclass(frozen=True)
class _Piece:
    """A slice of a large part, scanned on its own; numbers records as the whole part does."""

    source: Part
    start: int = 0
    end: int = -1  # -1: to the end
    repeated: int = 0  # length of the table header repeated at the top of the piece (context only)
    lines: _Lines | None = None  # the whole part's line breaks, for record numbers

    @property
    def first_record(self) -> int:
        """0-based record number of the piece's first line (after ``repeated``)."""
        if self.lines is None or not self.start:
            return 0
        record = self.lines.before(self.start)
        return record - 1 if self.repeated else record

    @property
    def first_block(self) -> int:
        return self.lines.before(self.start) + 1 if self.lines is not None and self.start else 0

    @property
    def part(self) -> Part:
        """The piece as a part of its own, built only when scanned: pieces never all exist at once."""
        if self.start == 0 and self.end == -1:
            return self.source
        text = self.source.text
        header = text[: self.repeated]
        return Part(header + text[self.start : self.end], self.source.origin, self.source.layout, self.source.header)


def _pieces(part: Part, swept: bool = False) -> list[_Piece]:
    """Cut a large part between records (tables, JSON) or paragraphs (prose); small parts stay whole. A table
    whose dense columns are swept goes in its first piece (an early decision), then pieces of the largest
    size (columnar kernels cost little per piece)."""
    text = part.text
    if _whole(part):
        return [_Piece(part)]
    header = text[: text.find("\n") + 1] if part.header else ""
    separator = "\n\n" if part.layout is Layout.PROSE else "\n"  # a PEM block never holds a blank line
    lines = _Lines(text)
    pieces: list[_Piece] = []
    start = 0
    size = PIECE_CHARS
    while start < len(text):
        cut = text.find(separator, start + size) if len(text) - start > size * 3 // 2 else -1
        size = SWEPT_PIECE_CHARS if swept else min(size * 2, MAX_PIECE_CHARS)
        end = len(text) if cut < 0 else cut + len(separator)
        pieces.append(_Piece(part, start, end, len(header) if start else 0, lines))
        start = end
    return pieces


def _whole(part: Part) -> bool:
    return len(part.text) <= PIECE_CHARS + PIECE_CHARS // 2


class _Records:
    """Maps offsets in a part's text to 1-based records (lines/rows) and paragraph blocks.

    Built on first use: a part without candidates never pays for it.
    """

    def __init__(self, text: str, paragraphs: bool, piece: _Piece) -> None:
        self.text = text
        self.paragraphs = paragraphs  # only prose needs paragraph blocks
        self.piece = piece

    @cached_property
    def starts(self) -> list[int]:
        lengths = [len(line) + 1 for line in self.text.split("\n")]
        return [0, *accumulate(lengths[:-1])]

    @cached_property
    def _block_starts(self) -> list[int]:
        """Records where a new paragraph block begins: the first blank line of each run of them."""
        first = self.text.find("\n")
        blank = [0] if not self.text[: first if first >= 0 else len(self.text)].strip() else []
        # a literal first character lets the regex engine skip ahead to each line break
        blank += [bisect.bisect_right(self.starts, m.start() + 1) - 1
                  for m in re.finditer(r"\n[^\S\n]*(?=\n|$)", self.text)]
        return [line for i, line in enumerate(blank) if i == 0 or blank[i - 1] != line - 1]

    @cached_property
    def first_record(self) -> int:
        return self.piece.first_record

    @cached_property
    def first_block(self) -> int:
        return self.piece.first_block

    def block(self, record: int) -> int:
        """The paragraph block of a 0-based record: how many blank-line runs start at or before it."""
        return bisect.bisect_right(self._block_starts, record)

    def index(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def bounds(self, index: int) -> tuple[int, int]:
        end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.text)
        return self.starts[index], end


class Scanner:
    """Runs the registry's recognizers over parts; turns accepted candidates into findings."""

    def __init__(self, registry: Registry, hasher: ValueHasher, fingerprints: Sequence[FingerprintSet] = ()) -> None:
        self.registry = registry
        self.hasher = hasher
        self.fingerprints = tuple(fingerprints)
        self._traits = [traits(r) for r in registry.recognizers]
        self.prefilter = Prefilter([t.triggers for t in self._traits])
        self._patterns = {
            index: [(pattern, _compiled(recognizer, pattern.regex, self._traits[index].linear_patterns))
                    for pattern in recognizer.patterns]
            for index, recognizer in enumerate(registry.recognizers)
            if isinstance(recognizer, PatternRecognizer)
        }
        self._context = {
            entity: _context_pattern(recognizer.context or [])
            for recognizer in registry.recognizers
            for entity in recognizer.supported_entities
        }
        self._anti = {
            entity: _AntiContext(own.anti_context, self._context.get(entity))
            for recognizer, own in zip(registry.recognizers, self._traits, strict=True) if own.anti_context
            for entity in recognizer.supported_entities
        }
        self._entities = frozenset(e for r in registry.recognizers for e in r.supported_entities)
        self._sweepable = _sweepable(registry.recognizers)  # the detectors whose dense columns are swept
        self._splits: dict[frozenset[str], _Split] = {}

    def narrowed(self, wanted: frozenset[str]) -> Scanner:
        """A scanner that runs only the recognizers (and exact-match sets) reporting one of ``wanted``:
        what a policy can act on. Itself when that is all of them."""
        recognizers = [r for r in self.registry.recognizers if wanted.intersection(r.supported_entities)]
        fingerprints = [f for f in self.fingerprints if f.entity in wanted]
        if len(recognizers) == len(self.registry.recognizers) and len(fingerprints) == len(self.fingerprints):
            return self
        return Scanner(Registry(recognizers), self.hasher, fingerprints)

    def scan(self, items: Iterable[Skipped | Part],
             narrowing: Callable[[], Scanner] | None = None) -> Generator[Progress, None, None]:
        """Findings of each part as extraction yields it; large parts piece by piece. What could not be
        extracted (``Skipped``) becomes an ``UNSCANNABLE`` finding. Closing this generator closes ``items``
        (an isolated extraction's worker stops). ``narrowing``, when given, names the scanner for each next
        piece: a caller that learns a detector can no longer change anything stops running it."""
        remaining = iter(items)
        parts = characters = 0
        values = sweep.Values()  # the numbers of swept values, the same across the upload
        try:
            item = next(remaining, None)
            while item is not None:
                if isinstance(item, Skipped):
                    following = next(remaining, None)
                    yield Progress([Finding.unscannable(item.origin, item.reason, parts)], parts, characters,
                                   following is not None)
                    item = following
                    continue
                characters += len(item.text)
                dense: tuple[sweep.Column, ...] = ()
                if not _whole(item) and item.layout is Layout.TABLE and item.header:
                    dense = (narrowing() if narrowing is not None else self)._dense_columns(item)
                pieces = _pieces(item, bool(dense))
                for number, piece in enumerate(pieces):  # large parts in pieces: an early decision comes early
                    scanner = narrowing() if narrowing is not None else self
                    found, swept = scanner._scan_piece(piece, parts, dense, values)
                    if number + 1 < len(pieces):
                        yield Progress(found, parts + 1, characters, True, swept)
                        continue
                    following = next(remaining, None)  # the next part is read ahead: is there more?
                    yield Progress(found, parts + 1, characters, following is not None, swept)
                parts += 1
                item = following
        finally:
            if isinstance(remaining, Generator):  # stop the extraction behind it
                remaining.close()

    def _dense_columns(self, part: Part) -> tuple[sweep.Column, ...]:
        """The dense columns of a large table (``detectors.sweep``), learnt from its first rows."""
        sampled = sweep.sample(part.text) if self._sweepable else None
        if sampled is None:
            return ()
        text = Part(sampled.text, part.origin, part.layout, part.header)
        piece = _Piece(text)
        candidates, errors = self._accepted(text, 0, piece, _Records(text.text, False, piece))
        if errors:
            return ()
        return sweep.learn(sampled, [(c.start, c.end, c.entity, c.score) for c in candidates], self._sweepable)

    def _scan_piece(self, piece: _Piece, index: int, dense: Sequence[sweep.Column],
                    values: sweep.Values) -> tuple[list[Finding], tuple[Swept, ...]]:
        """Findings in one piece of a part: its dense columns' cells counted in bulk, the rest one by one."""
        part = piece.part
        wanted = [column for column in dense if column.entity in self._entities]
        if not wanted:
            return self.scan_part(part, index, piece), ()
        split = self._split(frozenset(column.entity for column in wanted))
        swept = sweep.sweep(part.text, wanted, values, split.screens)
        return self._scan_swept(part, index, piece, swept, wanted, values, split)

    def _scan_swept(self, whole: Part, index: int, piece: _Piece, swept: sweep.Piece, dense: Sequence[sweep.Column],
                    values: sweep.Values, split: _Split) -> tuple[list[Finding], tuple[Swept, ...]]:
        """The rest of a swept piece, one by one. The other detectors' recognizers read the piece as it is: a
        swept cell in which one finds something goes back to being a candidate like any (the better one wins,
        as everywhere); those of numbers (``SCREENED``) read it blanked, as the rows where they could find
        something were not swept. The swept detectors' recognizers read it blanked: the cells no shape
        matched, and the other columns. Whatever is found in a dense column of its detector still goes to that
        column's count (a value is one value however it was found)."""
        records = _Records(whole.text, False, piece)
        cells = _CellBounds(whole.text, records)
        pool, errors = split.others._accepted(whole, index, piece, records, resolve=False) \
            if split.others else ([], [])
        counted = {c.column.index: c for c in swept.cells}
        back: dict[int, set[int]] = defaultdict(set)  # rows of swept cells something else was found in
        for candidate in list(pool):
            line = records.index(candidate.start)
            column, start, end = cells.of(line, candidate.start)
            bulk = counted.get(column)
            score = bulk.score_of(line - 1) if bulk is not None and line else None
            if bulk is not None and score is not None and line - 1 not in back[column]:
                back[column].add(line - 1)
                pool.append(_Candidate(start, end, bulk.column.entity, score))
        blanked = Part(swept.text, whole.origin, whole.layout, whole.header)
        mine, more = split.blanked._accepted(blanked, index, piece, _Records(blanked.text, False, piece),
                                             resolve=False)
        pool += mine + self._leftover_candidates(cells, swept.leftovers)
        columns = {(c.index, c.entity) for c in dense}
        kept: list[_Candidate] = []
        found: dict[str, list[tuple[int, int, float, str]]] = defaultdict(list)  # to the counts: column, record…
        for candidate in _without_overlaps(pool):
            if candidate.entity == SHAPE_ONLY:
                continue
            line = records.index(candidate.start)
            column = cells.of(line, candidate.start)[0]
            if (column, candidate.entity) in columns:
                found[candidate.entity].append((column, records.first_record + line + 1, candidate.score,
                                                whole.text[candidate.start:candidate.end]))
            else:
                kept.append(candidate)
        bulk_found = [s for c in swept.cells for s in c.swept(index, whole.origin, piece.first_record,
                                                              back.get(c.column.index, ()))]
        bulk_found += _counted(values, index, whole.origin, found)
        exact = self._exact_matches(whole, index, piece) if self.fingerprints else []
        examples = _Examples()
        findings = [self._finding(whole, index, records, c, examples) for c in kept]
        return errors + more + exact + findings, tuple(bulk_found)

    def _split(self, swept: frozenset[str]) -> _Split:
        """How a piece with these detectors swept is read (made once for each set of them)."""
        split = self._splits.get(swept)
        if split is None:
            screened = [r for r in self.registry.recognizers if isinstance(r, DetourRecognizer) and r.SCREENED
                        and not swept & set(r.supported_entities)]  # type: ignore[attr-defined]
            numbers = {e for r in screened for e in r.supported_entities}  # type: ignore[attr-defined]
            rest = self._entities - swept - numbers
            # swept cells hold ASCII digits only (their shapes allow no others)
            patterns = [screens.superset(pattern, flags & re.IGNORECASE, ascii_digits=True)
                        for r in screened for pattern, flags in _screen_patterns(r)]
            split = self._splits[swept] = _Split(self.narrowed(rest) if rest else None,
                                                 self.narrowed(swept | numbers),
                                                 sweep.Screens(tuple(patterns), _unheld(screened)))
        return split

    def scan_part(self, part: Part, index: int, piece: _Piece | None = None) -> list[Finding]:
        """Findings in ``part`` (the ``index``-th of the upload), or in one piece of it."""
        if not part.text:
            return []
        piece = piece or _Piece(part)
        records = _Records(part.text, part.layout is Layout.PROSE, piece)
        candidates, errors = self._accepted(part, index, piece, records)
        exact = self._exact_matches(part, index, piece) if self.fingerprints else []
        if not candidates:
            return errors + exact
        examples = _Examples()
        return errors + exact + [self._finding(part, index, records, c, examples) for c in candidates]

    def _leftover_candidates(self, cells: _CellBounds,
                             leftovers: Sequence[tuple[sweep.Column, int, str]]) -> list[_Candidate]:
        found = []
        for column, row, value in leftovers:
            judged = self._sweepable[column.entity].column_cell(value)
            if judged is not None:
                cell_start = cells.start(row + 1, column.index)  # the header is line 0
                start, end, score = judged
                found.append(_Candidate(cell_start + start, cell_start + end, column.entity, score))
        return found

    def spans(self, part: Part) -> list[tuple[int, int, str]]:
        """Where the values are in ``part``: (start, end, entity), for a redacted copy. Raises if a
        detector fails: a copy is only as good as the check behind it."""
        if not part.text:
            return []
        piece = _Piece(part)
        candidates, errors = self._accepted(part, 0, piece, _Records(part.text, part.layout is Layout.PROSE, piece))
        if errors:
            raise RuntimeError(errors[0].note)
        return [(c.start, c.end, c.entity) for c in candidates]

    def _accepted(self, part: Part, index: int, piece: _Piece, records: _Records,
                  resolve: bool = True) -> tuple[list[_Candidate], list[Finding]]:
        """The recognizers' candidates that pass their checks and context, without overlaps (``resolve``;
        else all of them, shapes only included); and a finding for each recognizer that failed."""
        candidates: list[_Candidate] = []
        errors: list[Finding] = []
        for number, windows in sorted(self.prefilter.windows(part.text).items()):
            recognizer = self.registry.recognizers[number]
            layouts = self._traits[number].layouts  # e.g. NER: prose only
            if layouts is not None and part.layout not in layouts:
                continue
            try:
                results = self._run(number, recognizer, part.text, windows)
            except Exception:
                log.exception("detector failed", extra={"detector": recognizer.name})
                errors.append(
                    Finding(
                        entities.DETECTOR_ERROR,
                        recognizer.name,
                        "",
                        1.0,
                        Location(index, part.origin, 0, 0),
                        part.layout,
                        f"the {recognizer.name} check failed on {part.origin}, so it was not fully checked",
                    )
                )
                continue
            for candidate in results:
                if candidate.start < piece.repeated:
                    continue  # the header repeated at the top of a piece: scanned as context only
                if candidate.score < ACCEPT_SCORE:
                    if not self._has_context(part, records, candidate.start, candidate.end, candidate.entity):
                        continue
                    candidate = _Candidate(candidate.start, candidate.end, candidate.entity,
                                           candidate.score + CONTEXT_BOOST)
                    if candidate.score < ACCEPT_SCORE:
                        continue
                anti = self._anti.get(candidate.entity)
                if anti is not None and candidate.score < CERTAIN and anti.labelled(part, records, candidate.start):
                    continue
                candidates.append(candidate)
        if not candidates or not resolve:
            return candidates, errors
        return [c for c in _without_overlaps(candidates) if c.entity != SHAPE_ONLY], errors

    def _run(self, number: int, recognizer: EntityRecognizer, text: str,
             windows: list[tuple[int, int]]) -> list[_Candidate]:
        """The recognizer's results within the windows; lookarounds see the text beyond each window."""
        found: list[_Candidate] = []
        spans = [(0, len(text)) if window == WHOLE else window for window in windows]
        patterns = self._patterns.get(number)
        if patterns is not None:  # a PatternRecognizer: Presidio's semantics, without its per-match objects
            entity = recognizer.supported_entities[0]
            validate, invalidate = recognizer.validate_result, recognizer.invalidate_result
            for pattern, compiled in patterns:
                for lo, hi in spans:
                    for match in compiled(text, lo, hi):
                        start, end = match.span()
                        if start == end:
                            continue
                        value = text[start:end]
                        valid = validate(value)
                        score = min(pattern.score, TOP_SCORE) if valid is None else (TOP_SCORE if valid else 0.0)
                        if score > 0 and not invalidate(value):
                            found.append(_Candidate(start, end, entity, score))
            return found
        for lo, hi in spans:
            found.extend(_Candidate(r.start, r.end, r.entity_type, min(float(r.score), TOP_SCORE))
                         for r in analyze_range(recognizer, text, lo, hi) if r.score > 0)
        return found

    def _exact_matches(self, part: Part, index: int, piece: _Piece) -> list[Finding]:
        """Records of registered datasets (EDM), found by salted hashes of their values."""
        found = []
        lines = part.text[piece.repeated:].split("\n")
        for number, line in enumerate(lines, start=piece.first_record + (2 if piece.repeated else 1)):
            for fingerprints in self.fingerprints:
                for record_id in sorted(edm.matches(fingerprints, line)):
                    found.append(Finding(fingerprints.entity, f"a record of {fingerprints.name}",
                                         self.hasher(fingerprints.entity, str(record_id)), 1.0,
                                         Location(index, part.origin, number, number), Layout.TABLE))
        return found

    def _has_context(self, part: Part, records: _Records, start: int, end: int, entity: str) -> bool:
        pattern = self._context.get(entity)
        if pattern is None:
            return False
        if part.layout is Layout.PROSE:
            lo, hi = max(0, start - CONTEXT_WINDOW), min(len(part.text), end + CONTEXT_WINDOW)
        else:  # never look across records: the next row is another person
            record_start, record_end = records.bounds(records.index(start))
            lo, hi = max(record_start, start - CONTEXT_WINDOW), min(record_end, end + CONTEXT_WINDOW)
            if part.header:
                column = part.text.count(CELL_SEPARATOR, record_start, start)
                if column < len(part.header) and pattern.search(part.header[column].lower()):
                    return True
        window = part.text[lo:start] + " " + part.text[end:hi]
        return pattern.search(window.lower()) is not None

    def _finding(self, part: Part, index: int, records: _Records, candidate: _Candidate,
                 examples: _Examples | None = None) -> Finding:
        raw = part.text[candidate.start : candidate.end]
        record = records.index(candidate.start)
        column = 0
        if part.layout is Layout.TABLE:
            column = part.text.count(CELL_SEPARATOR, records.starts[record], candidate.start) + 1
        number = records.first_record + record
        block = records.first_block + records.block(record) if part.layout is Layout.PROSE else number
        return Finding(
            entity=candidate.entity,
            masked=mask(candidate.entity, raw) if examples is None else examples.masked(candidate.entity, raw),
            digest=self.hasher(candidate.entity, normalize(candidate.entity, raw)),
            score=round(min(candidate.score, 1.0), 2),
            location=Location(index, part.origin, number + 1, block, column),
            layout=part.layout,
        )


def _unheld(recognizers: Sequence[EntityRecognizer]) -> frozenset[str]:
    """The ASCII characters no value of these recognizers can hold (worked out from their patterns, or from
    what a recognizer without patterns says its values are made of)."""
    def holds(recognizer: EntityRecognizer, char: str) -> bool:
        if isinstance(recognizer, PatternRecognizer):
            flags = int(recognizer.global_regex_flags or 0)
            return any(screens.could_hold(p.regex, flags, char) for p in recognizer.patterns)
        values = getattr(recognizer, "SCREEN_VALUES", None)
        return values is None or screens.could_hold(values.pattern, int(values.flags), char)
    return frozenset(char for char in map(chr, range(33, 127)) if not any(holds(r, char) for r in recognizers))


def _screen_patterns(recognizer: EntityRecognizer) -> list[tuple[str, int]]:
    """A screened recognizer's patterns, each with its flags."""
    if isinstance(recognizer, PatternRecognizer):
        return [(pattern.regex, int(recognizer.global_regex_flags or 0)) for pattern in recognizer.patterns]
    return [(pattern.pattern, int(pattern.flags)) for pattern in recognizer.SCREEN_PATTERNS]


@dataclass(frozen=True)
class _Split:
    """How a swept piece is read: the recognizers that read it as it is, those that read it blanked (the swept
    detectors' and the screened ones'), and the screens (where a screened recognizer could find a value)."""

    others: Scanner | None
    blanked: Scanner
    screens: sweep.Screens


def _counted(values: sweep.Values, index: int, origin: str,
             found: dict[str, list[tuple[int, int, float, str]]]) -> list[Swept]:
    """Values found one by one in dense columns, to the columns' counts: per column and score, numbered with
    the swept ones (one lookup per detector)."""
    counted: list[Swept] = []
    for entity, items in found.items():
        numbers = values.ids(entity, pa.array([normalize(entity, raw) for *_, raw in items], pa.string()))
        groups: dict[tuple[int, float], list[int]] = defaultdict(list)
        for position, (column, _, score, _) in enumerate(items):
            groups[(column, score)].append(position)
        for (column, score), positions in groups.items():
            shown = tuple(dict.fromkeys(mask(entity, items[p][3]) for p in positions[:EXAMPLE_TRIES]))[:EXAMPLES]
            counted.append(Swept(entity, round(min(score, 1.0), 2), index, origin, column + 1,
                                 np.array([items[p][1] for p in positions], dtype=np.int64), numbers[positions],
                                 shown))
    return counted


class _CellBounds:
    """Where the cells of a table's rows are (made for a row when first asked)."""

    def __init__(self, text: str, records: _Records) -> None:
        self.text = text
        self.records = records
        self._rows: dict[int, list[int]] = {}

    def _starts(self, line: int) -> list[int]:
        starts = self._rows.get(line)
        if starts is None:
            begin, end = self.records.bounds(line)
            lengths = (len(cell) + 1 for cell in self.text[begin:end].split(CELL_SEPARATOR))
            starts = self._rows[line] = list(accumulate(lengths, initial=begin))
        return starts

    def of(self, line: int, offset: int) -> tuple[int, int, int]:
        """The 0-based column of ``offset`` in a line, and its cell's start and end."""
        starts = self._starts(line)
        column = max(0, min(bisect.bisect_right(starts, offset) - 1, len(starts) - 2))
        return column, starts[column], starts[column + 1] - 1

    def start(self, line: int, column: int) -> int:
        return self._starts(line)[column]


class _Examples:
    """Masked examples, a few per detector in each part or piece: a list of 100,000 addresses is counted by
    digests, and shown by a few masked examples, not 100,000 masks. The other findings' ``masked`` is empty."""


    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, set[str]]] = {}

    def masked(self, entity: str, raw: str) -> str:
        tries, distinct = self._seen.get(entity) or (0, set())
        if tries >= EXAMPLE_TRIES or len(distinct) >= EXAMPLES:
            return ""
        example = mask(entity, raw)
        distinct.add(example)
        self._seen[entity] = (tries + 1, distinct)
        return example


def _sweepable(recognizers: Iterable[EntityRecognizer]) -> dict[str, DetourRecognizer]:
    """Contact detectors whose recognizers name the shapes of a dense column's values, by detector."""
    found: dict[str, DetourRecognizer] = {}
    for recognizer in recognizers:
        reported = recognizer.supported_entities
        if isinstance(recognizer, DetourRecognizer) and entities.sweepable(reported) \
                and type(recognizer).column_shapes is not DetourRecognizer.column_shapes:
            found[reported[0]] = recognizer
    return found


def _compiled(recognizer: PatternRecognizer, pattern: str,
              linear: bool) -> Callable[[str, int, int], Iterator[re.Match[str]]]:
    """``finditer`` for one pattern. Patterns declared linear (Detour's own) use the standard library's
    engine (a fraction of the ``regex`` module's cost per call); other patterns run under ``regex`` with
    a timeout, as in Presidio."""
    flags = recognizer.global_regex_flags
    if linear:
        return re.compile(pattern, flags).finditer
    compiled = regex.compile(pattern, flags)
    return lambda text, lo, hi: compiled.finditer(text, lo, hi, timeout=REGEX_TIMEOUT_SECONDS)


class _AntiContext:
    """Labels of values that are not the recognizer's: in a table column's header, or right before the value
    on its line ("Order 000123456", "EAN: 7312345678901", "Art.nr 12-34567")."""

    LABEL_CHARS = 32  # how far before a value its label may start

    def __init__(self, words: Iterable[str], context: re.Pattern[str] | None = None) -> None:
        self.context = context  # the recognizer's own context words: a "Phone no" column holds phones
        alternatives = "|".join(re.escape(w) for w in sorted({w.lower() for w in words}, key=len, reverse=True))
        self.header = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")
        self.label = re.compile(rf"(?<![a-z0-9])(?:{alternatives})\.?[ \t]*(?:no\.?|nr\.?|number|nummer|#|id)?"
                                r"[ \t]*[:#=]?[ \t]*$")

    def labelled(self, part: Part, records: _Records, start: int) -> bool:
        record_start, _ = records.bounds(records.index(start))
        if part.layout is not Layout.PROSE and part.header:
            column = part.text.count(CELL_SEPARATOR, record_start, start)
            header = part.header[column].lower() if column < len(part.header) else ""
            if self.header.search(header) and not (self.context is not None and self.context.search(header)):
                return True
            record_start = part.text.rfind(CELL_SEPARATOR, record_start, start) + 1 or record_start
        before = part.text[max(record_start, start - self.LABEL_CHARS):start].lower()
        return self.label.search(before) is not None


def _context_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in cleaned) + ")")


def _without_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Where candidates overlap, keep the most confident (then the longest), in text order.

    Candidates are grouped into runs of overlapping spans first, so the greedy choice runs per
    run: linear in practice however many candidates a part has.
    """
    ordered = sorted(candidates, key=lambda c: (c.start, c.end))
    kept: list[_Candidate] = []
    group: list[_Candidate] = []
    reach = -1
    for candidate in ordered:
        if group and candidate.start >= reach:
            kept.extend(_best_of(group))
            group = []
        group.append(candidate)
        reach = max(reach, candidate.end) if len(group) > 1 else candidate.end
    if group:
        kept.extend(_best_of(group))
    return kept


def _best_of(group: list[_Candidate]) -> list[_Candidate]:
    if len(group) == 1:
        return group
    kept: list[_Candidate] = []
    starts: list[int] = []
    for c in sorted(group, key=lambda c: (-c.score, c.start - c.end, c.start)):
        i = bisect.bisect_right(starts, c.start)
        if (i > 0 and kept[i - 1].end > c.start) or (i < len(kept) and kept[i].start < c.end):
            continue
        starts.insert(i, c.start)
        kept.insert(i, c)
    return kept


def scan_blob(scanner: Scanner, blob: bytes, name: str, limits: Limits) -> ScanResult:
    """Bytes in, findings out: every finding in ``blob``, extracted and scanned to its end (no policy, so no
    early decision). For library users and measurements; the gateway's pipeline drives the stages itself."""
    extraction = open_upload(blob, name, limits)
    findings: list[Finding] = []
    swept: list[Swept] = []
    parts = characters = 0
    for step in scanner.scan(extraction.items):
        findings.extend(step.findings)
        swept.extend(step.swept)
        parts, characters = step.parts, step.characters
    return ScanResult(extraction.mime_type, tuple(findings), parts, characters, swept=tuple(swept))
