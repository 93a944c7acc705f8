"""Live policy reload with a safe fallback.

A change to the policy folder (seen by a watch that looks every ``POLL_SECONDS``, or asked for: ``SIGHUP``, the
console's *Reload*, ``POST /v1/admin/policy/reload``) is validated completely, and only a valid policy is
swapped in: the pipeline reads its policy once per upload, so an upload is decided by one policy, old or new,
never a mix. An invalid edit keeps the running policy; every problem (file, line, field) is logged and shown
in ``/readyz`` and the console until the folder is fixed. Each replica watches its own folder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from gateway.errors import PolicyError
from gateway.pipeline import Pipeline
from gateway.policy.loader import Policy, folder_digest, load_policy, policy_files
from gateway.store.metrics import Metrics
from gateway.store.store import DecisionStore
from gateway.store.versions import record_version

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the folder is looked at (its files' sizes and times; read only when they change)
RECORD_RETRY_SECONDS = 30.0  # a policy version the store could not keep is offered again this often


@dataclass(frozen=True)
class ReloadState:
    loaded: str  # the digest of the policy deciding uploads
    on_disk: str | None  # the digest of the folder as it is now (None: no folder)
    error: str | None  # why the folder's policy is not loaded (every problem), or None
    reloaded: datetime | None  # when a policy was last swapped in, and how
    how: str | None
    warnings: tuple[str, ...] = ()  # what `detour policy check` warns about in the policy deciding uploads

    def as_json(self, warnings: Literal["list", "count"] = "list") -> dict[str, object]:
        """``warnings="count"``: how many, not what (``/readyz`` answers anyone; the admin API, the list)."""
        return {"loaded": self.loaded, "on_disk": self.on_disk, "error": self.error,
                "reloaded": self.reloaded.isoformat() if self.reloaded else None, "how": self.how,
                "warnings": list(self.warnings) if warnings == "list" else len(self.warnings)}


class PolicyReloader:
    def __init__(self, pipeline: Pipeline, directory: Path, known_detectors: Iterable[str],
                 store: DecisionStore | None = None) -> None:
        self.pipeline = pipeline
        self.store = store  # where each policy version that decides uploads is recorded (policy history)
        self._unrecorded: tuple[Policy, str] | None = None
        self._record_after = 0.0
        self.directory = directory
        self.known = frozenset(known_detectors)
        self._lock = threading.Lock()
        self._error: str | None = None
        self.failures = 0  # loads of the folder that failed (the metrics count them)
        self._reloaded: datetime | None = None
        self._how: str | None = None
        self._stamps = self._look()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> ReloadState:
        try:
            on_disk = folder_digest(self.directory)
        except OSError:  # can't look just now
            on_disk = None
        policy = self.pipeline.policy
        return ReloadState(policy.digest, on_disk, self._error, self._reloaded, self._how,
                           tuple(str(w) for w in policy.warnings))

    def reload(self, how: str) -> ReloadState:
        """Load the folder and swap it in when it is valid and new; keep the running policy when not."""
        with self._lock:
            try:
                stamps = self._stamps_now()
                policy = load_policy(self.directory, known_detectors=self.known)
            except OSError as problem:  # out of descriptors, a folder being moved: look again next time
                self.failures += 1
                log.warning("policy %s can't be read just now (%s); the running policy stays", self.directory,
                            problem.strerror or type(problem).__name__)
                return self.state()
            except Exception as problem:  # PolicyError, or a bug checking an odd file: the running policy stays
                self.failures += 1
                if not isinstance(problem, PolicyError):
                    log.exception("policy %s: checking the folder failed; the running policy stays", self.directory)
                self._stamps = stamps
                if self._error != str(problem):
                    log.warning("policy %s: the folder's policy is not valid; the running one stays (%s)\n%s",
                                self.directory, how, problem)
                self._error = str(problem)
                return self.state()
            self._stamps = stamps
            self._error = None
            if policy.digest != self.pipeline.policy.digest:
                self.pipeline.policy = policy  # one attribute: each upload reads it once
                self._reloaded, self._how = datetime.now(UTC), how
                self.record(policy, how)
                log.warning("policy %s %s (%s) loaded (%s)%s", policy.document.policy.name,
                            policy.document.policy.version, policy.digest, how,
                            "".join(f"\n  warning: {w}" for w in policy.warnings))
            return self.state()

    def sample(self, metrics: Metrics) -> None:
        """The policy in force and the failed loads, for the metrics."""
        policy = self.pipeline.policy
        metrics.policy_in_force(policy.digest, policy.document.policy.version)
        metrics.total(metrics.reload_errors, self.failures)

    def record(self, policy: Policy, how: str) -> None:
        """Keep ``policy`` in the policy history; when the store can't just now, try again later."""
        if self.store is None:
            return
        if record_version(self.store, policy, how):
            self._unrecorded = None
        else:
            self._unrecorded, self._record_after = (policy, how), time.monotonic() + RECORD_RETRY_SECONDS

    def check(self) -> None:
        """Reload when the folder's files changed since the last look."""
        unrecorded = self._unrecorded
        if unrecorded is not None and time.monotonic() >= self._record_after:
            self.record(*unrecorded)
        try:
            changed = self._stamps_now() != self._stamps
        except OSError:
            return  # can't look just now (out of descriptors): next time
        if changed:
            self.reload("the folder changed")

    def start(self) -> None:
        """Record the policy in force and watch the folder in a background thread (``detour serve``)."""
        self.record(self.pipeline.policy, "start-up")
        def watch() -> None:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    self.check()
                except Exception:  # a watch that dies silently would leave edits unnoticed
                    log.exception("policy watch: looking at %s failed; it goes on", self.directory)

        self._thread = threading.Thread(target=watch, name="detour-policy-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _stamps_now(self) -> tuple[tuple[str, int, int], ...]:
        """The folder's files as names, sizes and times; raises ``OSError`` when it can't be looked at."""
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in policy_files(self.directory))

    def _look(self) -> tuple[tuple[str, int, int], ...]:
        try:
            return self._stamps_now()
        except OSError:
            return ()
