"""The inspection pool: a bounded number of inspections run at once, a bounded number wait, and the
uploads they hold take a bounded amount of memory.

Shared by every channel. Scanning is CPU work in Python threads and extraction
waits on worker processes; the threads bound both, and the queue bounds how many
uploads wait. Each upload is admitted with its size in bytes: when the uploads
already admitted hold the memory budget, a new one is refused (one upload alone
is always admitted, so the upload limit, not the budget, caps a single file).
When any bound is reached, ``submit`` refuses at once (``PoolFull``) and the
pipeline decides by the policy's ``on_error``: an overloaded gateway answers
quickly instead of piling up work.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from detectors.errors import DetourError

P = ParamSpec("P")
T = TypeVar("T")


class PoolFull(DetourError):
    """Every inspection thread is busy and the queue is full."""


class InspectionPool:
    def __init__(self, threads: int, queue: int, memory_bytes: int) -> None:
        self.threads = threads
        self.queue = queue
        self.memory_bytes = memory_bytes
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inspect")
        self._lock = threading.Lock()
        self._admitted = 0  # uploads running or waiting
        self._held = 0  # their bytes

    def submit(self, size: int, work: Callable[P, T], *args: P.args,
               **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        """Run ``work`` for an upload of ``size`` bytes, or raise ``PoolFull`` at once."""
        with self._lock:
            if self._admitted >= self.threads + self.queue or (self._held and self._held + size > self.memory_bytes):
                raise PoolFull
            self._admitted += 1
            self._held += size
        try:
            future = self._executor.submit(work, *args, **kwargs)
        except BaseException:
            self._release(size)
            raise
        future.add_done_callback(lambda _: self._release(size))
        return future

    @property
    def held(self) -> int:
        """Bytes of the uploads admitted now."""
        return self._held

    def _release(self, size: int) -> None:
        with self._lock:
            self._admitted -= 1
            self._held -= size

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
