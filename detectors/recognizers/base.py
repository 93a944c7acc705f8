"""What Detour's recognizers declare on top of Presidio's recognizer interface.

A Detour recognizer is a presidio-analyzer recognizer (``PatternRecognizer`` or
``EntityRecognizer``) that also inherits ``DetourRecognizer`` and declares:

- ``TRIGGERS``: where its values could be (tier 0, ``detectors.prefilter``);
  none means "run on the whole text";
- ``LAYOUTS``: the part layouts it runs on (None: every layout);
- ``LINEAR_PATTERNS``: its patterns are written for Python's own engine and run
  in linear time (a recognizer from elsewhere runs under ``regex`` with a timeout);
- ``ANTI_CONTEXT``: labels of values that are not its own (a phone recognizer's
  "EAN", "order no"): a candidate in a column with such a header, or right after
  such a label, is dropped unless it is certain (score ``CERTAIN``);
- ``column_shapes``: optionally, the shapes of whole table cells it certainly
  accepts, learnt from a dense column's first cells, so that the rest of the
  column is counted in bulk (``detectors.sweep``);
- ``analyze_range``: optionally, its results within a window of a text, with
  lookarounds seeing the real neighbours (otherwise the slice is analysed);
  a result of the entity ``SHAPE_ONLY`` marks a span that is no value of
  anyone's (see below).

The scanner reads these through ``traits``; a recognizer from elsewhere (one of
Presidio's own) gets the defaults: whole text, every layout, patterns with a timeout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.findings import Layout, Shape, Statistics
from detectors.prefilter import Trigger

# A recognizer may report a span as a shape only: written like one of its values but failing its checks
# (a mistyped IBAN). Such a span wins overlaps like any candidate, then is dropped: the digits in it are
# not another recognizer's phone or card number.
SHAPE_ONLY = "_SHAPE_ONLY"


class DetourRecognizer:
    """Mixin for Detour's recognizers, listed after the Presidio base: ``X(PatternRecognizer, DetourRecognizer)``."""

    TRIGGERS: ClassVar[tuple[Trigger, ...]] = ()
    # Its values are digit runs, its trigger fires on every phone number: a dense column is screened with its
    # patterns instead (``detectors.sweep``), a row where they could match is not swept
    SCREENED: ClassVar[bool] = False
    # for one without patterns: where each of its values begins (compiled: its flags go with it)
    SCREEN_PATTERNS: ClassVar[tuple[re.Pattern[str], ...]] = ()
    # and what every value it reports is made of (None: anything)
    SCREEN_VALUES: ClassVar[re.Pattern[str] | None] = None
    LAYOUTS: ClassVar[frozenset[Layout] | None] = None
    LINEAR_PATTERNS: ClassVar[bool] = True
    ANTI_CONTEXT: ClassVar[tuple[str, ...]] = ()

    def analyze_range(self, text: str, start: int, end: int) -> list[RecognizerResult] | None:
        """Results within ``text[start:end]``, offsets in ``text``, for a recognizer whose lookarounds
        should see past the window; None (the default): the scanner analyses the slice."""
        return None

    def column_shapes(self, values: list[str]) -> Sequence[Shape] | None:
        """Shapes of whole table cells this recognizer accepts as it accepted ``values`` (the sampled cells of
        a dense column, each one whole-cell finding of it), every cell of a shape with one and the same result;
        None (the default): its values are checked one by one (``detectors.sweep``)."""
        return None

    def column_cell(self, value: str) -> tuple[int, int, float] | None:
        """For a recognizer that judges a column by its statistics: where in a cell of a column it accepted
        (a swept column's cell no shape matched) its value is, and the score; None: not its value there.
        The default (recognizers that judge each value on its own) is never asked: such cells are scanned."""
        return None

    def column_statistics(self, header: str) -> Statistics | None:
        """For a recognizer that judges a column by its statistics: what every window of rows of a column so
        named must show for its cells to be its values (``detectors.sweep`` checks them again and again)."""
        return None

    @classmethod
    def judges_columns(cls) -> bool:
        """Whether it accepts a column by statistics over its values (``column_cell`` then decides a cell)."""
        return cls.column_cell is not DetourRecognizer.column_cell


CERTAIN = 0.8  # a candidate this sure of itself is not dropped for its anti-context


@dataclass(frozen=True)
class Traits:
    """How the scanner runs one recognizer."""

    triggers: tuple[Trigger, ...] = ()
    layouts: frozenset[Layout] | None = None
    linear_patterns: bool = False
    anti_context: tuple[str, ...] = ()


FOREIGN = Traits()  # a recognizer that is not Detour's: whole text, every layout, patterns with a timeout


def traits(recognizer: EntityRecognizer) -> Traits:
    if isinstance(recognizer, DetourRecognizer):
        return Traits(recognizer.TRIGGERS, recognizer.LAYOUTS, recognizer.LINEAR_PATTERNS, recognizer.ANTI_CONTEXT)
    return FOREIGN


def analyze_range(recognizer: EntityRecognizer, text: str, start: int, end: int) -> list[RecognizerResult]:
    """A recognizer's results within ``text[start:end]``, whether it is Detour's or not."""
    if isinstance(recognizer, DetourRecognizer):
        found = recognizer.analyze_range(text, start, end)
        if found is not None:
            return found
    if (start, end) == (0, len(text)):
        return list(recognizer.analyze(text, recognizer.supported_entities, None))
    return [RecognizerResult(r.entity_type, r.start + start, r.end + start, r.score)
            for r in recognizer.analyze(text[start:end], recognizer.supported_entities, None)]
