"""The pipeline: the one way an upload is inspected, whatever channel it came through.

Every channel (``POST /v1/inspect``, ``POST /v1/intercept``, ICAP, the CLI,
policy tests, the redacted copy's re-check) calls ``Pipeline.inspect`` (or
``inspect_async`` from the event loop) with the ``Content`` and its
``Envelope``. The stages, in ``_inspect``:

    extract (detectors.extract) → scan (detectors.scan, piece by piece) → decide (policy.engine)
        → render (render.report, in the person's language) → record (store.Recorder)

Early decision: once ``decide`` says the findings so far block, more findings
cannot change that; the pipeline closes the scan (which stops the extraction
worker) and marks the evidence partial.

The pipeline applies the limits itself: the upload size, a deadline, and a
bounded pool of inspection threads. Whatever goes wrong inside (a timeout, an
internal error, no capacity) ends as a decision by the policy's ``on_error``,
rendered in the person's language and recorded like any other: a channel never
sees an exception. Extraction and detector failures are findings (unscannable
content), which the policy decides on like any other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from alternatives.catalogue import LANGUAGES, Language
from detectors.errors import DetourError
from detectors.extract import open_upload
from detectors.filetype import sniff
from detectors.findings import Finding, ScanResult, Swept
from detectors.limits import Limits
from detectors.scan import Scanner
from gateway.metadata import Masker
from gateway.policy.engine import decide, decide_failure, detectors_of, detectors_still_open, detectors_that_matter
from gateway.policy.loader import Policy
from gateway.pool import InspectionPool, PoolFull
from gateway.records import Action, Channel, Content, Envelope, Evidence, Exemption, Inspection, Upload
from gateway.render.report import Report, render
from gateway.settings import Settings
from gateway.store.metrics import Metrics
from gateway.store.recorder import Recorder

log = logging.getLogger(__name__)

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
DEADLINE_GRACE = 30.0  # beyond the upload's own time limit: the extraction stops itself first
MAX_NARROWED = 64  # scanners kept for the sets of detectors policies act on (they follow from the rules)


def new_decision_id() -> str:
    """An unguessable, readable reference: DTR- and 80 random bits in four groups."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "DTR-" + "-".join(chars[i : i + 4] for i in range(0, 16, 4))


class _Cancelled(DetourError):
    """The caller stopped waiting (deadline): the work stops and records nothing."""


class _Attempt:
    """One inspection, raced by its work and its deadline: whoever claims it first records the decision."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: str | None = None
        self.began = time.monotonic()  # when the upload was handed over (the metrics' latency)

    def _claim(self, who: str) -> bool:
        with self._lock:
            if self._owner is None:
                self._owner = who
            return self._owner == who

    def finish(self) -> bool:
        """The work is done: True when it may record (the deadline did not pass first)."""
        return self._claim("work")

    def abandon(self) -> bool:
        """The deadline passed: True when the work had not finished (it stops at its next step)."""
        return self._claim("deadline")

    def cancelled(self) -> bool:
        return self._owner == "deadline"


@dataclass
class _Started:
    """An upload handed to the pool (``future`` None: the pool had no room)."""

    content: Content
    envelope: Envelope
    language: Language
    attempt: _Attempt
    future: concurrent.futures.Future[Report] | None = None


class Pipeline:
    """Inspects uploads: extract → scan → decide → render → record, within the limits and the deadline."""

    def __init__(self, settings: Settings, policy: Policy, scanner: Scanner, recorder: Recorder,
                 pool: InspectionPool, exemptions: Callable[[], Sequence[Exemption]] = tuple,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or recorder.audit.metrics
        self.exemptions = exemptions  # the exceptions IT granted that are in force now
        self.policy = policy
        self.scanner = scanner
        self.recorder = recorder
        self.pool = pool
        self.masker = Masker(scanner)  # metadata is masked for every kind of value, whatever the policy
        self._narrowed: dict[frozenset[str], Scanner] = {}
        self._narrowing = threading.Lock()

    @property
    def limits(self) -> Limits:
        """The settings' limits, with the policy's ``limits:`` overrides applied."""
        return _limits(self.settings, self.policy)

    @property
    def deadline(self) -> float:
        """Seconds an inspection may take, whatever the channel: the setting, else the upload's limit + 30 s."""
        return self.settings.inspect_seconds or self.limits.upload_seconds + DEADLINE_GRACE

    @property
    def default_language(self) -> Language:
        return self.policy.document.policy.default_language

    # --- the entry ---------------------------------------------------------------------------------

    def inspect(self, content: Content | bytes | Path, envelope: Envelope,
                language: Language | None = None) -> Report:
        """Inspect one upload and answer in ``language`` (default: the policy's); blocks the caller.

        Raises only ``OSError`` for a ``Path`` that can't be read (nothing was uploaded)."""
        started = self._start(content, envelope, language)
        if started.future is None:
            return self._failed(started, "busy")
        try:
            return started.future.result(timeout=self.deadline)
        except concurrent.futures.TimeoutError:
            if started.attempt.abandon():
                started.future.cancel()  # not started yet: it never will
                return self._failed(started, "timeout")
            return started.future.result()  # it finished as the deadline passed

    async def inspect_async(self, content: Content | bytes, envelope: Envelope,
                            language: Language | None = None) -> Report:
        """``inspect`` for the event loop: the loop goes on serving while the pool works."""
        started = self._start(content, envelope, language)
        if started.future is None:
            return await asyncio.to_thread(self._failed, started, "busy")
        waiting = asyncio.wrap_future(started.future)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.deadline)
        except TimeoutError:
            if started.attempt.abandon():
                started.future.cancel()
                waiting.add_done_callback(_forget)  # the abandoned work ends in _Cancelled: nobody waits for it
                return await asyncio.to_thread(self._failed, started, "timeout")
            return await waiting

    def _start(self, content: Content | bytes | Path, envelope: Envelope, language: Language | None) -> _Started:
        """Hand the upload to the pool; no future when the pool has no room left."""
        if isinstance(content, Path):
            content = Content.read(content, self.limits.max_upload_bytes)
        elif not isinstance(content, Content):
            content = Content(content)
        started = _Started(content, envelope, language or self.default_language, _Attempt())
        try:
            started.future = self.pool.submit(len(content.data), self._inspect, content, envelope, started.language,
                                              started.attempt)
        except PoolFull:
            pass
        return started

    # --- the stages --------------------------------------------------------------------------------

    def _inspect(self, content: Content, envelope: Envelope, language: Language, attempt: _Attempt) -> Report:
        policy = self.policy  # one policy for the whole inspection, whatever happens meanwhile
        upload = Upload.of(envelope, content, self.settings.default_destination)
        decision_id = new_decision_id()
        try:
            in_force = self.exemptions()
            scan = self._scan(content, upload, policy, attempt, in_force)
            decision = decide(scan, upload, policy, decision_id, in_force)  # on the metadata as sent; kept masked
            inspection = Inspection(self.masker.upload(upload), self.masker.evidence(Evidence.of(scan)),
                                    self.masker.decision(decision), policy.digest, who=self._who(upload))
            reports = self._render(inspection, policy, language)
        except _Cancelled:
            raise
        except Exception:
            log.exception("inspection failed; the policy's on_error decides", extra={"decision_id": decision_id})
            inspection = self._failure(upload, policy, "error", decision_id)
            reports = self._render(inspection, policy, language)
        reports = self._justified(inspection, reports, language)
        if not attempt.finish():
            raise _Cancelled
        report = reports[language]
        self.recorder.record(inspection, report, reports, later=self._other_languages(inspection, policy, report))
        self.metrics.inspected(inspection, upload.channel.value, time.monotonic() - attempt.began)
        return report

    def _scan(self, content: Content, upload: Upload, policy: Policy, attempt: _Attempt,
              exemptions: Sequence[Exemption] = ()) -> ScanResult:
        """Extract and scan, only for what could still change the decision, and stop once nothing can (an upload
        certainly blocked, a contact list already warned about). Bad content is a finding."""
        limits = _limits(self.settings, policy)
        if content.problem is not None or content.size > limits.max_upload_bytes:
            reason = content.problem or (f"the file is larger than the limit of {limits.max_upload_bytes:,} bytes, "
                                         "so it can't be checked")
            mime_type = sniff(content.data)[0] if content.data else "application/octet-stream"
            return ScanResult(mime_type, (Finding.unscannable(upload.file_name, reason),))
        wanted = detectors_that_matter(upload, policy)
        if not wanted:  # nothing in it could change the decision: recorded by type, size and digest only
            return ScanResult(sniff(content.data)[0], skipped=True)
        # what it is read for, kept with the decision when less than the policy could look for (a replay of it
        # under a draft that needs more knows it can't be sure)
        looked_for = wanted if wanted != detectors_of(policy, {d.id for d in policy.document.data_classes}) else None
        extraction = open_upload(content.data, upload.file_name, limits, attempt.cancelled)
        findings: list[Finding] = []
        swept: list[Swept] = []
        parts = characters = 0
        next_check = 1  # ask decide() as findings grow by half: O(n) work over the whole scan
        scanner, narrowed = self._scanner_for(wanted), False
        steps = scanner.scan(extraction.items, lambda: scanner)
        try:
            for step in steps:
                if attempt.cancelled():
                    raise _Cancelled
                findings.extend(step.findings)
                swept.extend(step.swept)
                parts, characters = step.parts, step.characters
                found = len(findings) + sum(len(s) for s in swept)
                if step.more and found >= next_check:
                    next_check = found + max(1, found // 2)
                    so_far = ScanResult(extraction.mime_type, tuple(findings), parts, characters, partial=True,
                                        looked_for=looked_for, swept=tuple(swept))
                    still_open = detectors_still_open(so_far, upload, policy, exemptions)
                    if not still_open:  # the action is certain: the rest cannot change it
                        return so_far
                    if still_open != wanted:  # the rest is read only for what could still change it
                        wanted, scanner, narrowed = still_open, self._scanner_for(still_open), True
        finally:
            steps.close()  # stops the extraction behind it (an isolated worker is killed)
        return ScanResult(extraction.mime_type, tuple(findings), parts, characters, partial=narrowed,
                          looked_for=looked_for, swept=tuple(swept))

    def _scanner_for(self, wanted: frozenset[str]) -> Scanner:
        """The scanner for what a policy can act on here: one per set of detectors (a handful per policy:
        they follow from its rules), made once."""
        with self._narrowing:
            scanner = self._narrowed.get(wanted)
            if scanner is None:
                if len(self._narrowed) >= MAX_NARROWED:
                    self._narrowed.clear()
                scanner = self._narrowed[wanted] = self.scanner.narrowed(wanted)
            return scanner

    def _render(self, inspection: Inspection, policy: Policy, language: Language) -> dict[Language, Report]:
        """The answer, in the language asked for (the other languages follow off the answer's path)."""
        return {language: render(inspection, policy, language)}

    @staticmethod
    def _other_languages(inspection: Inspection, policy: Policy,
                         report: Report) -> Callable[[], dict[Language, Report]] | None:
        """A stop is shown on a page that can switch language: its other languages, under this policy, for the
        recorder to render before it stores the decision (an allow has no page to switch)."""
        if inspection.decision.action is Action.ALLOW:
            return None

        def others() -> dict[Language, Report]:
            return {lang: render(inspection, policy, lang).model_copy(update={"justified_by": report.justified_by})
                    for lang in LANGUAGES if lang != report.language}

        return others

    def _justified(self, inspection: Inspection, reports: dict[Language, Report],
                   language: Language) -> dict[Language, Report]:
        """A warning the person already justified for this file, host and person (still valid) goes on."""
        if reports[language].decision is not Action.WARN:
            return reports
        if inspection.who is None:  # nobody known: nothing anybody justified applies
            return reports
        try:
            justified_by = self.recorder.store.justified(inspection.upload.sha256,
                                                         inspection.decision.destination.host, inspection.who)
        except Exception:
            log.exception("the decision store could not be asked for justifications")
            return reports
        if justified_by is None:
            return reports
        return {lang: r.model_copy(update={"justified_by": justified_by}) for lang, r in reports.items()}

    # --- failures ----------------------------------------------------------------------------------

    def _failure(self, upload: Upload, policy: Policy, what: str, decision_id: str) -> Inspection:
        decision = decide_failure(upload, policy, what, decision_id)
        return Inspection(self.masker.upload(upload), Evidence("application/octet-stream", partial=True),
                          self.masker.decision(decision), policy.digest, failure=what, who=self._who(upload))

    def _who(self, upload: Upload) -> str | None:
        """Who sent it, as a keyed hash: the user the channel named, else the client's address as seen by the
        API client that sent it (two programs on one host are not one person)."""
        if upload.user:
            identity = f"user:{upload.user}"
        elif upload.client_ip:
            identity = f"ip:{upload.client_ip}"
            if upload.channel in (Channel.API, Channel.EXTENSION, Channel.INTERCEPT):  # known by its token, or none
                identity += f" via:{upload.api_client or '-'}"
        else:
            return None
        return self.scanner.hasher("WHO", identity)

    def who_of(self, identity: str) -> str:
        """The keyed hash the store keeps of who sent an upload (``user:<name>``): it matches, it never shows."""
        return self.scanner.hasher("WHO", identity)

    def failed(self, content: Content, envelope: Envelope, language: Language | None, what: str) -> Report:
        """A channel could not even hand the upload over (a bug in its own reading): decided by ``on_error``
        and recorded like any other decision, never an error for the client."""
        return self._failed(_Started(content, envelope, language or self.default_language, _Attempt()), what)

    def _failed(self, started: _Started, what: str) -> Report:
        """An upload that could not be inspected (``what``: timeout, busy): decided by the policy's
        ``on_error`` for the destination, rendered and recorded like any other decision."""
        log.warning("inspection %s; the policy's on_error decides", {"timeout": "timed out", "busy": "refused: "
                    "no capacity left"}.get(what, "failed"))
        policy = self.policy
        upload = Upload.of(started.envelope, started.content, self.settings.default_destination)
        inspection = self._failure(upload, policy, what, new_decision_id())
        report = render(inspection, policy, started.language)
        self.recorder.record(inspection, report, {started.language: report},
                             later=self._other_languages(inspection, policy, report))
        self.metrics.inspected(inspection, upload.channel.value, time.monotonic() - started.attempt.began)
        return report


def _forget(future: asyncio.Future[Report]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not log it as lost


def _limits(settings: Settings, policy: Policy) -> Limits:
    overrides = policy.document.limits.model_dump(exclude_none=True)
    return dataclasses.replace(settings.limits(), **overrides)
