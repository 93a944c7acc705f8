"""Tier 0: one multi-pattern pass over a part's text finds where each recognizer could match.

Every recognizer declares ``TRIGGERS``: cheap expressions that match wherever
one of its values could be (a digit run, an ``@`` between word characters, a
token prefix, a marking word). All triggers of all recognizers are compiled
into one Hyperscan database and run over the text once, in linear time and at
hundreds of MB/s; a recognizer's own patterns and validation then run only in
the windows around its triggers. Text without a trigger costs nothing more.

A trigger must match wherever its recognizer could: it is a superset, never a
guess. Recognizers that declare no trigger run on the whole text.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import hyperscan

_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))  # UTF-8 bytes that do not start a character


class Scope(Enum):
    WINDOW = "window"  # ``before``/``after`` characters around the trigger
    LINE = "line"  # the whole line(s) the trigger is on
    PART = "part"  # the whole part (e.g. a column header makes every row relevant)


@dataclass(frozen=True)
class Trigger:
    """Where a recognizer could match. ``pattern`` is Hyperscan syntax (no lookaround, no backreference).

    With ``span_chars`` the trigger is matched without start-of-match tracking (twice as fast on
    digit-heavy text) and its start is found by walking back over those characters.
    """

    pattern: str
    before: int = 0
    after: int = 0
    scope: Scope = Scope.WINDOW
    caseless: bool = False
    span_chars: str = ""

    def flags(self) -> int:
        flags = 0 if self.span_chars else hyperscan.HS_FLAG_SOM_LEFTMOST
        if self.caseless:
            flags |= hyperscan.HS_FLAG_CASELESS
        return flags


# Windows closer than this are scanned as one: a regex call costs more than a few dozen characters.
MERGE_GAP = 64
WHOLE = (0, -1)  # marker window: the whole text


class Prefilter:
    """The triggers of a list of recognizers, compiled once; ``windows`` runs them over a text."""

    def __init__(self, triggers: Sequence[Sequence[Trigger]]) -> None:
        """``triggers[i]`` are the triggers of recognizer ``i``; an empty sequence means 'always run'."""
        self.size = len(triggers)
        self.always = frozenset(i for i, own in enumerate(triggers) if not own)
        ids: dict[tuple[str, int], int] = {}
        self._triggers: list[Trigger] = []
        self._owners: list[list[int]] = []
        for index, own in enumerate(triggers):
            for trigger in own:
                key = (trigger.pattern, trigger.flags())
                if key not in ids:
                    ids[key] = len(self._triggers)
                    self._triggers.append(trigger)
                    self._owners.append([])
                elif self._triggers[ids[key]] != trigger:
                    raise ValueError(f"trigger {trigger.pattern!r} is declared with different windows")
                self._owners[ids[key]].append(index)
        self._database: hyperscan.Database | None = None
        if self._triggers:
            self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._database.compile(
                expressions=[t.pattern.encode("utf-8") for t in self._triggers],
                ids=list(range(len(self._triggers))),
                elements=len(self._triggers),
                flags=[t.flags() for t in self._triggers],
            )
        self._local = threading.local()  # a Hyperscan scratch space serves one scan at a time

    def windows(self, text: str) -> dict[int, list[tuple[int, int]]]:
        """Per recognizer index, the sorted, merged ``(start, end)`` character windows to scan.

        A recognizer without triggers gets ``[WHOLE]`` for any non-empty text.
        """
        found: dict[int, list[tuple[int, int]]] = {i: [WHOLE] for i in self.always} if text else {}
        if self._database is None or not text:
            return found
        hits = self._scan(text)
        if not hits:
            return found
        per_trigger = self._trigger_windows(text, hits)
        by_recognizer: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for trigger_id, spans in per_trigger.items():
            for owner in self._owners[trigger_id]:
                by_recognizer[owner].extend(spans)
        for owner, spans in by_recognizer.items():
            found[owner] = [WHOLE] if WHOLE in spans else _merged(sorted(spans)) if len(spans) > 1 else spans
        return found

    def _scan(self, text: str) -> list[tuple[int, int, int]]:
        data = text.encode("utf-8", "surrogatepass")
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        hits: list[tuple[int, int, int]] = []
        append = hits.append

        def on_match(trigger_id: int, start: int, end: int, flags: int, context: object) -> None:
            append((trigger_id, start, end))

        assert self._database is not None
        self._database.scan(data, match_event_handler=on_match, scratch=scratch)
        if len(data) != len(text):  # not ASCII: byte offsets become character offsets
            hits = _to_characters(data, hits)
        return hits

    def _trigger_windows(self, text: str, hits: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
        """Windows per trigger, merged as they come: Hyperscan reports hits in order of their end."""
        spans: dict[int, list[tuple[int, int]]] = {}
        length = len(text)
        triggers = self._triggers
        for trigger_id, start, end in hits:
            windows = spans.get(trigger_id)
            if windows is None:
                windows = spans[trigger_id] = []
            elif windows[-1] == WHOLE:
                continue
            trigger = triggers[trigger_id]
            scope = trigger.scope
            if scope is Scope.PART:
                spans[trigger_id] = [WHOLE]
                continue
            if windows:
                last_lo, last_hi = windows[-1]
                # Inside the last window: only its end can grow. (A span's start lies at or after the
                # start of the span before it; a trigger with start-of-match tracking says so itself.)
                if end <= last_hi and (trigger.span_chars or start - trigger.before >= last_lo):
                    if scope is Scope.WINDOW and end + trigger.after > last_hi:
                        windows[-1] = (last_lo, min(length, end + trigger.after))
                    continue
            if trigger.span_chars:  # the match's last character ends the span (or is its last digit)
                start = _span_start(text, end - 1, trigger.span_chars)
            if scope is Scope.LINE:
                hi = text.find("\n", end)
                lo, hi = text.rfind("\n", 0, start) + 1, length if hi < 0 else hi
            else:
                lo, hi = max(0, start - trigger.before), min(length, end + trigger.after)
            if windows and lo <= windows[-1][1] + MERGE_GAP:
                windows[-1] = (min(windows[-1][0], lo), max(windows[-1][1], hi))
            else:
                windows.append((lo, hi))
        return spans


def _span_start(text: str, end: int, chars: str) -> int:
    """Walk back from ``end`` over ``chars``: linear in the span, in C."""
    step = 64
    while True:
        lo = max(0, end - step)
        segment = text[lo:end]
        kept = len(segment.rstrip(chars))
        if kept or lo == 0:
            return lo + kept
        step *= 4


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged = [spans[0]]
    for lo, hi in spans[1:]:
        last_lo, last_hi = merged[-1]
        if lo <= last_hi + MERGE_GAP:
            if hi > last_hi:
                merged[-1] = (last_lo, hi)
        else:
            merged.append((lo, hi))
    return merged


def _to_characters(data: bytes, hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Map UTF-8 byte offsets to character offsets in one pass over the sorted offsets."""
    offsets = sorted({offset for _, start, end in hits for offset in (start, end)})
    table: dict[int, int] = {}
    previous = characters = 0
    for offset in offsets:
        segment = data[previous:offset]
        characters += len(segment.translate(None, _CONTINUATION_BYTES))
        table[offset] = characters
        previous = offset
    return [(trigger_id, table[start], table[end]) for trigger_id, start, end in hits]
