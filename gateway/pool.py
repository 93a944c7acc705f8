"""The inspection pool: a bounded number of inspections run at once, a bounded number wait.

Shared by every channel. Scanning is CPU work in Python threads and extraction
waits on worker processes; the threads bound both, and the queue bounds how many
uploads (with their bytes) wait in memory. When both are full, ``submit`` refuses
at once (``PoolFull``) and the pipeline decides by the policy's ``on_error``:
an overloaded gateway answers quickly instead of piling up work.
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
    def __init__(self, threads: int, queue: int) -> None:
        self.threads = threads
        self.queue = queue
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inspect")
        self._slots = threading.BoundedSemaphore(threads + queue)

    def submit(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        if not self._slots.acquire(blocking=False):
            raise PoolFull
        try:
            future = self._executor.submit(work, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
