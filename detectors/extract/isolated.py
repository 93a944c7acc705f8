"""Run the extraction of complex formats in a worker process with memory, CPU and time limits.

Office, PDF, archive, mail and image parsers are large and see hostile input.
Each such upload is extracted in a fresh process forked from a small
forkserver (so a parser's state never leaks between uploads), with an address
space limit, a CPU limit and a wall-clock timeout. A parser that hangs, loops
or explodes, or a worker that is killed, yields an "unscannable" record: never
a hung request or a dead service. Closing the generator (an early decision, a
cancelled inspection) kills the worker at once.
"""

from __future__ import annotations

import importlib.machinery
import logging
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

from detectors.extract.base import Item
from detectors.extract.dispatch import extract, fresh_context
from detectors.findings import Skipped
from detectors.limits import Limits

log = logging.getLogger(__name__)

# What the forkserver imports once, so that each worker starts with the parsers loaded. Nothing
# from the gateway: a worker needs the extractors only.
PRELOAD = ["detectors.extract.dispatch", "detectors.extract.isolated", "detectors.extract.carried",
           "detectors.extract.archive",
           "detectors.extract.office", "detectors.extract.pdf", "detectors.extract.mail",
           "detectors.extract.image", "detectors.extract.text"]
POLL_SECONDS = 0.25  # how often a wait for the worker looks whether the inspection was cancelled
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def extract_isolated(blob: bytes, origin: str, mime_type: str, encoding: str, limits: Limits,
                     cancelled: Callable[[], bool] | None = None) -> Iterator[Item]:
    """Yield the worker's parts one at a time, so the caller scans while the worker extracts."""
    keep_main_out_of_workers()
    receiver, sender = _context.Pipe(duplex=False)
    worker = _context.Process(target=_work, args=(sender, blob, origin, mime_type, encoding, limits), daemon=True)
    waited = 0.0  # only time spent waiting for the worker counts, not our own scanning between parts
    reason = None
    finished = False
    try:
        try:
            worker.start()
        finally:
            sender.close()
        while True:
            if cancelled is not None and cancelled():
                return
            started = time.monotonic()
            ready = receiver.poll(min(POLL_SECONDS, max(0.0, limits.file_seconds - waited)))
            waited += time.monotonic() - started
            if not ready:
                if waited >= limits.file_seconds:
                    reason = (f"reading {origin} took longer than {limits.file_seconds:g} seconds, "
                              "so it was stopped and can't be checked completely")
                    break
                continue
            item = receiver.recv()
            if item == _DONE:
                finished = True
                break
            yield item
    except (EOFError, OSError, MemoryError):
        reason = f"{origin} could not be read safely (the reader ran out of its limits), so it can't be checked"
    finally:
        receiver.close()
        if worker.pid is not None:  # started (a worker killed as it starts breaks the hand-over: not started)
            if finished:
                worker.join(timeout=1)  # it is on its way out
            if worker.is_alive():  # stopped early (an early decision, a cancelled inspection) or stuck
                worker.kill()
            worker.join()
    if reason is not None:
        log.warning("extraction worker gave up", extra={"file_type": mime_type, "exitcode": worker.exitcode})
        yield Skipped(origin, reason)


_DONE = "detour:extraction-done"


def _work(sender: Connection, blob: bytes, origin: str, mime_type: str, encoding: str, limits: Limits) -> None:
    memory = limits.worker_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.file_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        for item in extract(blob, origin, fresh_context(limits), mime_type, encoding):
            sender.send(item)
    except MemoryError:
        sender.send(Skipped(origin, f"{origin} needs more memory than allowed to read, so it can't be checked"))
    except (BrokenPipeError, EOFError):  # the reader has seen enough (an early decision): nothing to say
        return
    sender.send(_DONE)
    sender.close()


def warm_up() -> None:
    """Start the forkserver now (it preloads the parsers), so the first upload does not wait for it; and load the
    parsers here too (they are imported when a format is first seen): an import needs descriptors, which a server
    under a flood of connections may have none of just then."""
    from multiprocessing import forkserver

    from detectors.extract import archive, image, mail, office, pdf  # noqa: F401 - loaded now, used later

    keep_main_out_of_workers()
    forkserver.ensure_running()


def keep_main_out_of_workers() -> None:
    """Workers need the preloaded parsers only. By default multiprocessing re-imports the main script of
    this process in every worker (as ``__mp_main__``); a console script such as ``detour`` imports the
    whole application that way: seconds of CPU and 100+ MB per upload. A main module without a file
    spec is never re-imported, so a script's main module is declared as such (once; a main module run
    with ``-m`` already has its spec and is left alone)."""
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None and getattr(main, "__file__", None):
        main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
