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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.errors import PolicyError
from gateway.pipeline import Pipeline
from gateway.policy.loader import folder_digest, load_policy, policy_files

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the folder is looked at (its files' sizes and times; read only when they change)


@dataclass(frozen=True)
class ReloadState:
    loaded: str  # the digest of the policy deciding uploads
    on_disk: str | None  # the digest of the folder as it is now (None: no folder)
    error: str | None  # why the folder's policy is not loaded (every problem), or None
    reloaded: datetime | None  # when a policy was last swapped in, and how
    how: str | None

    def as_json(self) -> dict[str, object]:
        return {"loaded": self.loaded, "on_disk": self.on_disk, "error": self.error,
                "reloaded": self.reloaded.isoformat() if self.reloaded else None, "how": self.how}


class PolicyReloader:
    def __init__(self, pipeline: Pipeline, directory: Path, known_detectors: Iterable[str]) -> None:
        self.pipeline = pipeline
        self.directory = directory
        self.known = frozenset(known_detectors)
        self._lock = threading.Lock()
        self._error: str | None = None
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
        return ReloadState(self.pipeline.policy.digest, on_disk, self._error, self._reloaded, self._how)

    def reload(self, how: str) -> ReloadState:
        """Load the folder and swap it in when it is valid and new; keep the running policy when not."""
        with self._lock:
            try:
                stamps = self._stamps_now()
                policy = load_policy(self.directory, known_detectors=self.known)
            except OSError as problem:  # out of descriptors, a folder being moved: look again next time
                log.warning("policy %s can't be read just now (%s); the running policy stays", self.directory,
                            problem.strerror or type(problem).__name__)
                return self.state()
            except PolicyError as problem:
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
                log.warning("policy %s %s (%s) loaded (%s)", policy.document.policy.name,
                            policy.document.policy.version, policy.digest, how)
            return self.state()

    def check(self) -> None:
        """Reload when the folder's files changed since the last look."""
        try:
            changed = self._stamps_now() != self._stamps
        except OSError:
            return  # can't look just now (out of descriptors): next time
        if changed:
            self.reload("the folder changed")

    def start(self) -> None:
        """Watch the folder in a background thread (``detour serve``)."""
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
