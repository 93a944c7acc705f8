"""The scan stage: run every registered recognizer over extracted parts and keep safe findings.

Presidio's recognizer model is reused as it is (patterns, validation, context
words, scores), but not its NLP pipeline or its context enhancer: context is
scored here in a bounded window around each candidate (and, in tables, from the
column header), so a scan stays linear in the size of the input.

The raw matched text exists only inside ``_finding``: it is masked and hashed
there, and only the masked example and the salted digest leave this module.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors import edm, entities
from detectors.edm import FingerprintSet
from detectors.extract import Context, Item, extract, is_plain_text
from detectors.filetype import sniff
from detectors.findings import CELL_SEPARATOR, Finding, Layout, Location, Part, ScanResult, Skipped
from detectors.isolation import extract_isolated
from detectors.limits import Limits
from detectors.masking import mask, normalize
from detectors.registry import Registry

log = logging.getLogger(__name__)

# Tier 0 for number-shaped identifiers: one linear pass of the standard library's regex engine
# finds digit-dense spans; recognizers that only match numbers (DIGIT_CANDIDATES) then run on
# those spans alone, joined with their margins, instead of on the whole text.
# At least 7 digits (the shortest number-shaped identifier, a local phone number), each followed
# by at most 3 separator characters; a separator is never a digit, so matching stays linear.
_DIGIT_SPAN = re.compile(r"[+(]?(?:\d[ .()\-/#xXet]{0,3}){7,}")
SPAN_MARGIN = 4  # characters kept either side, so the recognizers' lookarounds see the real neighbours

ACCEPT_SCORE = 0.5  # a candidate at or above this is a finding
CONTEXT_BOOST = 0.35  # added to a weak candidate when a context word is near (Presidio's factor)
CONTEXT_WINDOW = 48  # characters either side of a candidate searched for context words


class ValueHasher:
    """Salted, keyed hash of a normalised value: lets IT correlate findings without the value."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the hash key must be at least 16 bytes")
        self._key = key

    def __call__(self, entity: str, normalised: str) -> str:
        mac = hmac.new(self._key, f"{entity}\x00{normalised}".encode(), hashlib.sha256)
        return mac.hexdigest()[:24]


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    entity: str
    score: float


@dataclass
class _Records:
    """Maps offsets in a part's text to 1-based records (lines/rows) and paragraph blocks."""

    text: str
    paragraphs: bool = True  # only prose needs paragraph blocks
    starts: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", self.text))
        if not self.paragraphs:
            return
        block, previous_blank = 0, False
        for index, start in enumerate(self.starts):
            end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.text)
            blank = not self.text[start:end].strip()
            if blank and not previous_blank:
                block += 1
            previous_blank = blank
            self.blocks.append(block)

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
        self._context = {
            entity: _context_pattern(recognizer.context or [])
            for recognizer in registry.recognizers
            for entity in recognizer.supported_entities
        }

    def scan_upload(self, blob: bytes, name: str, limits: Limits,
                    settled: Callable[[Sequence[Finding]], bool] | None = None) -> ScanResult:
        """Sniff the true type, extract, scan. Never raises for bad content: it becomes a finding.

        ``settled`` (from the caller, who knows the policy) says when the findings so far already
        decide the upload; the scan then stops early and the result is marked partial.
        """
        mime_type, encoding = sniff(blob)
        if len(blob) > limits.max_upload_bytes:
            reason = f"the file is larger than the limit of {limits.max_upload_bytes:,} bytes, so it can't be checked"
            return ScanResult(mime_type, (Finding.unscannable(name, reason),))
        if is_plain_text(mime_type):  # our own linear parsers: the fast path stays in-process
            items: Iterable[Item] = extract(blob, name, Context.fresh(limits), mime_type, encoding)
        else:
            items = extract_isolated(blob, name, mime_type, encoding, limits)
        findings: list[Finding] = []
        parts = chars = 0
        next_check = 1  # ask ``settled`` as findings grow by half: O(n) work over the whole scan
        remaining = iter(items)
        for item in remaining:
            if isinstance(item, Skipped):
                findings.append(Finding.unscannable(item.origin, item.reason, parts))
            else:
                chars += len(item.text)
                findings.extend(self.scan_part(item, parts))
                parts += 1
            if settled is not None and len(findings) >= next_check:
                next_check = len(findings) + max(1, len(findings) // 2)
                if settled(findings) and _more_to_come(remaining):
                    close = getattr(remaining, "close", None)
                    if close is not None:
                        close()  # stops the extraction worker
                    return ScanResult(mime_type, tuple(findings), parts, chars, partial=True)
        return ScanResult(mime_type, tuple(findings), parts, chars)

    def scan_part(self, part: Part, index: int) -> list[Finding]:
        candidates: list[_Candidate] = []
        records = _Records(part.text, part.layout is Layout.PROSE) if part.text else None
        errors: list[Finding] = []
        lowered: str | None = None
        spans: _Spans | None = None
        for recognizer in self.registry.recognizers:
            if getattr(recognizer, "REQUIRES_CONTEXT", False):
                lowered = lowered if lowered is not None else (" ".join(part.header) + "\n" + part.text).lower()
                if not self._context_anywhere(recognizer, lowered):
                    continue
            try:
                if getattr(recognizer, "DIGIT_CANDIDATES", False):
                    spans = spans if spans is not None else _Spans.of(part.text)
                    results = spans.analyze(recognizer)
                else:
                    results = recognizer.analyze(part.text, recognizer.supported_entities, None)
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
            for result in results:
                score = float(result.score)
                if score < ACCEPT_SCORE and records is not None:
                    if self._has_context(part, records, result.start, result.end, result.entity_type):
                        score += CONTEXT_BOOST
                if score >= ACCEPT_SCORE:
                    candidates.append(_Candidate(result.start, result.end, result.entity_type, score))
        exact = self._exact_matches(part, index) if self.fingerprints and part.text else []
        if records is None or not candidates:
            return errors + exact
        return errors + exact + [self._finding(part, index, records, c) for c in _without_overlaps(candidates)]

    def _exact_matches(self, part: Part, index: int) -> list[Finding]:
        """Records of registered datasets (EDM), found by salted hashes of their values."""
        found = []
        for number, line in enumerate(part.text.split("\n"), start=1):
            for fingerprints in self.fingerprints:
                for record_id in sorted(edm.matches(fingerprints, line)):
                    found.append(Finding(fingerprints.entity, f"a record of {fingerprints.name}",
                                         self.hasher(fingerprints.entity, str(record_id)), 1.0,
                                         Location(index, part.origin, number, number), Layout.TABLE))
        return found

    def _context_anywhere(self, recognizer: EntityRecognizer, lowered: str) -> bool:
        pattern = self._context.get(recognizer.supported_entities[0])
        return pattern is not None and pattern.search(lowered) is not None

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

    def _finding(self, part: Part, index: int, records: _Records, candidate: _Candidate) -> Finding:
        raw = part.text[candidate.start : candidate.end]
        record = records.index(candidate.start)
        block = records.blocks[record] if part.layout is Layout.PROSE else record
        column = 0
        if part.layout is Layout.TABLE:
            column = part.text.count(CELL_SEPARATOR, records.starts[record], candidate.start) + 1
        return Finding(
            entity=candidate.entity,
            masked=mask(candidate.entity, raw),
            digest=self.hasher(candidate.entity, normalize(candidate.entity, raw)),
            score=round(min(candidate.score, 1.0), 2),
            location=Location(index, part.origin, record + 1, block, column),
            layout=part.layout,
        )


def _more_to_come(items: Iterator[Item]) -> bool:
    """Whether anything is left unread; peeking consumes the next item, which is then not scanned."""
    return next(items, None) is not None


@dataclass
class _Spans:
    """The digit-dense spans of a text, joined by newlines, with a map back to the text's offsets."""

    text: str
    joined_starts: list[int]
    original_starts: list[int]

    @classmethod
    def of(cls, text: str) -> _Spans:
        pieces: list[str] = []
        joined_starts: list[int] = []
        original_starts: list[int] = []
        position = 0
        for match in _DIGIT_SPAN.finditer(text):
            start, end = max(0, match.start() - SPAN_MARGIN), min(len(text), match.end() + SPAN_MARGIN)
            piece = text[start:end].replace("\n", " ") if "\n" in text[start:end] else text[start:end]
            joined_starts.append(position)
            original_starts.append(start)
            pieces.append(piece)
            position += len(piece) + 1
        return cls("\n".join(pieces), joined_starts, original_starts)

    def analyze(self, recognizer: EntityRecognizer) -> list[RecognizerResult]:
        if not self.text:
            return []
        results = recognizer.analyze(self.text, recognizer.supported_entities, None)
        for result in results:
            index = bisect.bisect_right(self.joined_starts, result.start) - 1
            shift = self.original_starts[index] - self.joined_starts[index]
            result.start += shift
            result.end += shift
        return list(results)


def _context_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in cleaned) + ")")


def _without_overlaps(candidates: list[_Candidate]) -> list[_Candidate]:
    """Where candidates overlap, keep the most confident (then the longest)."""
    kept: list[_Candidate] = []
    starts: list[int] = []
    for c in sorted(candidates, key=lambda c: (-c.score, c.start - c.end, c.start)):
        i = bisect.bisect_right(starts, c.start)
        if i > 0 and kept[i - 1].end > c.start:
            continue
        if i < len(kept) and kept[i].start < c.end:
            continue
        starts.insert(i, c.start)
        kept.insert(i, c)
    return kept
