"""The records passed between Detour's stages: ``Part`` (extracted text) and ``Finding``.

``extract`` turns an upload into ``Part``s; ``scan`` turns parts into ``Finding``s.
A ``Finding`` never holds the raw matched value: only a masked example and a
salted hash, so nothing downstream (decisions, logs, responses) can leak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from detectors.entities import UNSCANNABLE


class Layout(StrEnum):
    """How the text of a part is organised into records (the unit of 'one person')."""

    PROSE = "prose"  # records are lines, grouped into paragraphs
    TABLE = "table"  # records are rows; cells joined by TAB, rows by LF
    STRUCTURED = "structured"  # records are objects (JSON); rendered like table rows
    METADATA = "metadata"  # document properties (sensitivity labels); one property per line


CELL_SEPARATOR = "\t"
EXAMPLES = 3  # distinct masked examples kept per detector (in each part scanned, and in a decision)
EXAMPLE_TRIES = 4 * EXAMPLES  # values masked at most per detector and part, looking for EXAMPLES distinct masks
RECORD_SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of text extracted from an upload, with where it came from.

    For ``TABLE`` and ``STRUCTURED`` layouts each line of ``text`` is one record;
    ``header`` holds the column names of a table (used as context for its cells).
    """

    text: str
    origin: str
    layout: Layout = Layout.PROSE
    header: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """Content extraction could not inspect (encrypted, corrupt, over a limit): never a silent pass."""

    origin: str
    reason: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding sits: the part's origin and the record (row or line) within it."""

    part: int  # index of the part within the upload
    origin: str
    record: int  # 1-based row (tables) or line (prose)
    block: int  # paragraph index for prose; equals record for tables
    column: int = 0  # 1-based column in tables (with the row: the cell); 0 elsewhere


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value, safe to keep: masked example and salted hash, never the raw text.

    ``masked`` is set on the first few findings of each detector in a part (``EXAMPLES`` distinct masks) and
    empty on the rest: people and distinct values are counted by digest."""

    entity: str
    masked: str
    digest: str
    score: float
    location: Location
    layout: Layout = Layout.PROSE
    note: str = ""  # for UNSCANNABLE / DETECTOR_ERROR: why, in plain words

    @classmethod
    def unscannable(cls, origin: str, reason: str, part: int = 0) -> Finding:
        """Content that could not be inspected: a finding the policy decides on, never a pass."""
        return cls(UNSCANNABLE, "", "", 1.0, Location(part, origin, 0, 0), note=reason)


@dataclass(frozen=True)
class Shape:
    """Whole table cells a recognizer certainly accepts, all alike (``detectors.sweep``): an anchored RE2
    ``pattern`` and a longest length (in bytes); and how values of this shape are normalised to tell them
    apart: ``lower``, ``ascii`` (lower-cased, for ASCII-only shapes), ``phone`` (without the characters in
    ``remove``, and ``00`` written ``+``), or as they are."""

    pattern: str
    normal: str = ""
    max_length: int | None = None
    remove: str = ""
    digitless: bool = False  # its cells hold no digit (no number-shaped value of another detector can be in one)
    words: tuple[int, str] | None = None  # made by ``of_words``: at most so many words, these characters inside

    @classmethod
    def of_words(cls, most: int, inside: str, normal: str = "", max_length: int | None = None) -> Shape:
        """One to ``most`` words, single-spaced: each a letter, then letters or characters of ``inside`` (an
        ASCII column is then checked a column of bytes at a time, not by RE2)."""
        escaped = "".join("\\" + c if c in "\\]^-" else c for c in inside)
        word = rf"\pL[\pL{escaped}]*"
        return cls(rf"^{word}(?: {word}){{0,{most - 1}}}$", normal, max_length, digitless=True,
                   words=(most, inside))


@dataclass(frozen=True)
class Statistics:
    """What a column judged by its values (names) must show on every ``window`` rows, as its recognizer asks
    of the first ones: at least ``min_shaped`` of the non-empty cells of its shape, and at least ``min_known``
    of them starting with one of the ``known`` words (when there are any)."""

    min_shaped: float
    min_known: float = 0.0
    known: frozenset[str] = frozenset()
    window: int = 200


@dataclass(frozen=True, eq=False)
class Swept:
    """Findings of one detector in one dense table column, counted in bulk (``detectors.sweep``): the 1-based
    records they are in and, for each, a number standing for its value (the same value, the same number
    within a scan), with a few masked examples. Never a value, and no per-value digest: these findings are
    counted, not kept one by one."""

    entity: str
    score: float
    part: int
    origin: str
    column: int  # 1-based
    records: np.ndarray  # int64, one per finding
    values: np.ndarray  # int64, one per finding
    examples: tuple[str, ...] = ()
    layout: Layout = Layout.TABLE

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class ScanResult:
    """Everything the scan learned about one upload."""

    mime_type: str
    findings: tuple[Finding, ...] = ()
    parts: int = 0
    scanned_chars: int = 0
    partial: bool = False  # the scan stopped early: the decision could no longer change
    skipped: bool = False  # not read at all: no rule of the policy could act on this upload
    looked_for: frozenset[str] | None = None  # the detectors it ran, when fewer than the policy has (None: all)
    swept: tuple[Swept, ...] = ()  # findings of dense table columns, counted in bulk

    def of(self, entities: frozenset[str] | set[str]) -> list[Finding]:
        return [f for f in self.findings if f.entity in entities]

    @property
    def count(self) -> int:
        """Every finding, those counted in bulk included."""
        return len(self.findings) + sum(len(s) for s in self.swept)
