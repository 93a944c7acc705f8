"""The records the gateway passes between its stages, defined once.

``Envelope`` (who sends what where, through which channel: what an adapter
knows before it reads the bytes) and ``Content`` (the bytes, or why they can't
be read) go into ``pipeline.inspect``. The pipeline makes them an ``Upload``
(what the policy sees), extracts and scans it (``detectors``: ``Part`` →
``Finding`` → ``ScanResult``), keeps the masked ``Evidence`` of the scan, and
``decide`` makes a language-neutral ``Decision``. Together they are an
``Inspection``: what the store keeps, enough to decide again under another
policy and to render the answer in any language (``render.report``).

Nothing here holds a raw matched value: findings leave the scanner masked and
hashed, and ``Evidence`` keeps only masked examples and keyed hashes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import numpy as np

from detectors.findings import EXAMPLES, Finding, Layout, Location, ScanResult, Swept
from detectors.people import count_people, distinct_swept

MAX_EXAMPLES = EXAMPLES  # masked examples kept per detector
MAX_LOCATIONS = 5  # first places kept per detector
MAX_TRACE = 2_000  # findings kept one by one (for deciding again); of more, the first ones


class Action(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return {"allow": 0, "warn": 1, "block": 2}[self.value]


class Channel(StrEnum):
    """Where an upload came from."""

    API = "api"  # POST /v1/inspect
    EXTENSION = "extension"  # POST /v1/inspect from the browser extension (X-Detour-Channel: extension)
    INTERCEPT = "intercept"  # POST /v1/intercept: a proxy add-on (mitmproxy)
    ICAP = "icap"  # an ICAP proxy (Squid)
    CLI = "cli"  # detour scan
    EVAL = "eval"  # detour eval
    POLICY_TEST = "policy-test"  # detour policy test
    REDACTION = "redaction"  # the redacted copy, checked before it is handed out


@dataclass(frozen=True)
class Envelope:
    """What an adapter knows about an upload before reading it."""

    file_name: str
    destination: str = ""  # URL or host; empty: the settings' default (an unsanctioned external site)
    user: str | None = None
    group: str | None = None
    channel: Channel = Channel.API
    client_ip: str | None = None  # the person's address: from the proxy (ICAP X-Client-IP), or the API caller's
    api_client: str | None = None  # the API client (``detour client token create``) that sent it, if any


class Content:
    """The bytes of one upload, or as much of them as was kept, with the size and SHA-256 of all of them.

    ``problem`` says, for people, why the content can't be read at all (a form body that does not
    parse). A ``size`` over the upload limit means the bytes were not all kept: the policy decides on
    content that can't be checked. The digest of ``data`` is computed when first asked for, in the
    inspection's own thread.
    """

    __slots__ = ("_sha256", "data", "problem", "size")

    def __init__(self, data: bytes, *, size: int | None = None, sha256: str | None = None,
                 problem: str | None = None) -> None:
        self.data = data
        self.size = len(data) if size is None else size
        self._sha256 = sha256
        self.problem = problem

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self.data).hexdigest()
        return self._sha256

    @classmethod
    def read(cls, path: Path, limit: int) -> Content:
        """A file: read when it is within ``limit`` bytes, otherwise only hashed (never held in memory)."""
        size = path.stat().st_size
        if size <= limit:
            return cls(path.read_bytes())
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1024 * 1024), b""):
                digest.update(chunk)
        return cls(b"", size=size, sha256=digest.hexdigest())


@dataclass(frozen=True)
class Upload:
    """Who uploads what, where to: the envelope with the content's size and digest. What the policy sees."""

    file_name: str
    destination: str
    size: int
    sha256: str
    user: str | None = None
    group: str | None = None
    channel: Channel = Channel.API
    client_ip: str | None = None
    api_client: str | None = None

    @classmethod
    def of(cls, envelope: Envelope, content: Content, default_destination: str) -> Upload:
        """The envelope's texts made safe to keep and show, whatever a client sent: printable characters
        only, no lone surrogates (a file name from a disk that is not UTF-8), bounded lengths."""
        return cls(file_name=_printable(envelope.file_name, 1024) or "upload",
                   destination=_printable(envelope.destination or default_destination, 2048),
                   size=content.size, sha256=content.sha256, user=_printable(envelope.user or "", 256) or None,
                   group=_printable(envelope.group or "", 256) or None, channel=envelope.channel,
                   client_ip=_printable(envelope.client_ip or "", 64) or None,
                   api_client=_printable(envelope.api_client or "", 100) or None)


@dataclass(frozen=True)
class Destination:
    url: str
    host: str
    category: str
    sanctioned: bool


@dataclass(frozen=True)
class DataClassHit:
    """A data class the upload contains, with the numbers that describe it (never values)."""

    id: str
    count: int
    distinct: int
    people: int
    triggered: bool  # the threshold is reached


@dataclass(frozen=True)
class Reason:
    rule: str
    action: Action
    data_classes: tuple[str, ...]


@dataclass(frozen=True)
class Exemption:
    """An exception IT granted (approving a review request): uploads to ``destination_host`` (or a host under
    it) from ``user``, from ``group`` or from everyone (both None), holding only ``data_classes`` (empty: any),
    get ``action`` (allow or warn) instead of what the rules say, until ``expires``."""

    id: int
    destination_host: str
    user: str | None
    group: str | None
    data_classes: tuple[str, ...]
    action: Action
    expires: datetime
    note: str = ""
    sha256: str | None = None  # a narrow exception: this one file only (a confirmed false positive)
    subdomains: bool = False  # hosts under destination_host too (asked for explicitly)

    def applies_to(self, upload: Upload, host: str) -> bool:
        """Whether it is for this sender and this destination host (its expiry is the caller's to check)."""
        for_host = host == self.destination_host or (self.subdomains and host.endswith("." + self.destination_host))
        if self.sha256 is not None and upload.sha256 != self.sha256:
            return False
        if self.user is not None:
            return for_host and upload.user == self.user
        if self.group is not None:
            return for_host and upload.group == self.group
        return for_host

    def covers(self, data_classes: Sequence[str]) -> bool:
        return not self.data_classes or all(c in self.data_classes for c in data_classes)


@dataclass(frozen=True)
class Decision:
    """What the policy decided, language-neutral; ``render.report`` words it for people."""

    id: str
    action: Action
    destination: Destination
    reasons: tuple[Reason, ...] = ()
    data_classes: tuple[DataClassHit, ...] = ()
    alternatives: tuple[str, ...] = ()
    exemption: Exemption | None = None  # an exception IT granted decided it
    monitored: tuple[Reason, ...] = ()  # rules in monitor mode that apply: recorded, never acted on

    @property
    def would(self) -> Action | None:
        """What the rules in monitor mode would have made of it, when more severe than what was decided."""
        action = max((r.action for r in self.monitored), key=lambda a: a.severity, default=None)
        return action if action is not None and action.severity > self.action.severity else None

    def hit(self, data_class_id: str) -> DataClassHit | None:
        return next((h for h in self.data_classes if h.id == data_class_id), None)


@dataclass(frozen=True)
class Place:
    """Where a detector found something: the part's origin, the record (row, line) and the column."""

    origin: str
    record: int
    column: int = 0


@dataclass(frozen=True)
class DetectorSummary:
    """One detector's findings in an upload: counts, masked examples, first places. Never a value."""

    entity: str
    count: int
    distinct: int
    people: int  # the people these findings alone belong to (contact detectors)
    examples: tuple[str, ...]
    places: tuple[Place, ...]


class Trace(NamedTuple):
    """One finding as ``decide`` needs it to decide again: keyed hash, score, record and layout; masked.
    (A named tuple: stored as a short JSON array, as there may be thousands.)"""

    entity: str
    digest: str
    score: float
    part: int
    record: int
    block: int
    layout: Layout

    def finding(self) -> Finding:
        return Finding(self.entity, "", self.digest, self.score, Location(self.part, "", self.record, self.block),
                       self.layout)


@dataclass(frozen=True)
class Evidence:
    """What the store keeps of a scan: the type, how much was read, and per detector what was found (masked).

    ``trace`` holds the findings in the masked form ``decide`` needs to decide again under another
    policy; ``traced`` is False when there were more than ``MAX_TRACE`` and only the first of them are kept.
    Deciding again on those is deciding on what was read first, as an early decision does: it may miss a
    rule that needs more findings, never trigger one that all of them would not; the scan it gives back
    says so (``partial``). A block by an early decision is kept with the findings that made it certain.
    """

    mime_type: str
    parts: int = 0
    characters: int = 0
    partial: bool = False  # the scan stopped early: the decision could no longer change
    detectors: tuple[DetectorSummary, ...] = ()
    trace: tuple[Trace, ...] = ()
    traced: bool = True
    skipped: bool = False  # the content was not read: no rule of the policy could act on it (``scan.skipped``)
    looked_for: tuple[str, ...] | None = None  # the detectors run, when fewer than the policy has (None: all)

    @classmethod
    def of(cls, scan: ScanResult) -> Evidence:
        traced = len(scan.findings) <= MAX_TRACE and not scan.swept
        # Findings counted in bulk are not kept one by one, so the others alone are no prefix of the scan (the
        # names that told people apart would be missing): such a scan keeps none, and is decided again on nothing
        trace = () if scan.swept else tuple(_trace(f) for f in scan.findings[:MAX_TRACE])
        return cls(scan.mime_type, scan.parts, scan.scanned_chars, scan.partial, _summaries(scan),
                   trace, traced, scan.skipped, tuple(sorted(scan.looked_for)) if scan.looked_for is not None else None)

    def scan(self) -> ScanResult:
        """The scan again, as ``decide`` sees it (masked values and origins are not kept); partial when
        only the first findings were kept, or nothing was read."""
        return ScanResult(self.mime_type, tuple(t.finding() for t in self.trace), self.parts, self.characters,
                          self.partial or not self.traced or self.skipped, self.skipped,
                          frozenset(self.looked_for) if self.looked_for is not None else None)


@dataclass(frozen=True)
class Inspection:
    """One inspected upload, language-neutral: what the pipeline learned and decided."""

    upload: Upload
    evidence: Evidence
    decision: Decision
    policy_digest: str
    failure: str | None = field(default=None)  # "timeout", "error", "busy": decided by the policy's on_error
    who: str | None = None  # a keyed hash of who sent it (the user, else the client address): matches, never shows


@dataclass(frozen=True)
class ReviewRequest:
    """Staff ask IT to review a tool or site they need."""

    tool: str
    why: str
    needed_by: str
    status: str  # open | approved | declined
    created: datetime
    answer: str | None = None  # IT's answer: a decline's reason, an approval's note
    until: datetime | None = None  # an approval: the exception it granted lasts until then


@dataclass(frozen=True)
class Justification:
    """A business reason for a warning: the same file may go to the same site until it expires."""

    text: str
    created: datetime
    expires: datetime


@dataclass(frozen=True)
class Ticket:
    """A message to the helpdesk's webhook."""

    id: int
    event: str
    status: str  # pending | sent | failed
    remote_id: str | None
    created: datetime


@dataclass(frozen=True)
class History:
    """What happened around a decision since it was made: routes taken, requests, reasons, tickets."""

    created: datetime
    routes_taken: tuple[str, ...] = ()
    reviews: tuple[ReviewRequest, ...] = ()
    reported_wrong: bool = False
    justification: Justification | None = None
    tickets: tuple[Ticket, ...] = ()
    client_ip: str | None = None
    wrong_status: str | None = None  # IT's verdict on the "looks wrong" report: open | confirmed | rejected
    wrong_answer: str | None = None  # and its words


def _printable(text: str, limit: int) -> str:
    text = "".join(ch for ch in text if ch.isprintable())
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def _trace(finding: Finding) -> Trace:
    # Content nobody could check has no digest; its reason tells such findings apart for "distinct".
    digest = finding.digest or "note:" + hashlib.blake2b(finding.note.encode(), digest_size=8).hexdigest()
    where = finding.location
    return Trace(finding.entity, digest, finding.score, where.part, where.record, where.block, finding.layout)


def _summaries(scan: ScanResult) -> tuple[DetectorSummary, ...]:
    """Group findings by detector: counts, distinct values, people, masked examples, first places (those
    counted in bulk included: a swept column's first records)."""
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in scan.findings:
        grouped[finding.entity].append(finding)
    bulk: dict[str, list[Swept]] = defaultdict(list)
    for counted in scan.swept:
        bulk[counted.entity].append(counted)
    out = []
    for entity in dict.fromkeys([*grouped, *bulk]):
        items, swept = grouped.get(entity, []), bulk.get(entity, [])
        shown = [shown for f in items if (shown := f.masked or f.note)] + [e for s in swept for e in s.examples]
        examples = tuple(dict.fromkeys(shown))[:MAX_EXAMPLES]
        places = tuple(dict.fromkeys(Place(f.location.origin, f.location.record, f.location.column)
                                     for f in items))[:MAX_LOCATIONS]
        if swept:  # the first places of both, in the order of the upload
            where = {place: (f.location.part, f.location.record, f.location.column) for f in items
                     if (place := Place(f.location.origin, f.location.record, f.location.column)) in places}
            where.update({Place(s.origin, int(record), s.column): (s.part, int(record), s.column)
                          for s in swept for record in np.sort(s.records)[:MAX_LOCATIONS]})
            places = tuple(sorted(where, key=lambda place: where[place]))[:MAX_LOCATIONS]
        count = len(items) + sum(len(s) for s in swept)
        distinct = len({(f.digest, f.note) for f in items}) + distinct_swept(swept)
        out.append(DetectorSummary(entity, count, distinct, count_people(items, frozenset({entity}), swept),
                                   examples, places))
    return tuple(sorted(out, key=lambda s: (-s.count, s.entity)))
