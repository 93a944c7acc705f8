"""Run the extraction of complex formats in a worker process with memory, CPU and time limits.

Office, PDF, archive, mail and image parsers are large and see hostile input.
Each such upload is extracted in a fresh process forked from a small
forkserver (so a parser's state never leaks between uploads), with an address
space limit, a CPU limit and a wall-clock timeout. A parser that hangs, loops
or explodes yields an "unscannable" record: never a hung request or a dead
service.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
from multiprocessing.connection import Connection

from detectors.extract import Context, Item, extract
from detectors.findings import Skipped
from detectors.limits import Limits

log = logging.getLogger(__name__)

_PRELOAD = ["detectors.extract", "detectors.extract.archive", "detectors.extract.office", "detectors.extract.pdf",
            "detectors.extract.mail", "detectors.extract.image", "detectors.extract.text"]
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(_PRELOAD)


def extract_isolated(blob: bytes, origin: str, mime_type: str, encoding: str, limits: Limits) -> list[Item]:
    receiver, sender = _context.Pipe(duplex=False)
    worker = _context.Process(target=_work, args=(sender, blob, origin, mime_type, encoding, limits), daemon=True)
    worker.start()
    sender.close()
    try:
        if receiver.poll(limits.file_seconds):
            items: list[Item] = receiver.recv()
            return items
        reason = (f"checking {origin} took longer than {limits.file_seconds:g} seconds, "
                  "so it was stopped and can't be checked")
    except (EOFError, OSError, MemoryError):
        reason = f"{origin} could not be read safely (the reader ran out of its limits), so it can't be checked"
    finally:
        receiver.close()
        worker.join(timeout=1)
        if worker.is_alive():
            worker.kill()
            worker.join()
    log.warning("extraction worker gave up", extra={"file_type": mime_type, "exitcode": worker.exitcode})
    return [Skipped(origin, reason)]


def _work(sender: Connection, blob: bytes, origin: str, mime_type: str, encoding: str, limits: Limits) -> None:
    memory = limits.worker_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.file_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        items = list(extract(blob, origin, Context.fresh(limits), mime_type, encoding))
    except MemoryError:
        items = [Skipped(origin, f"{origin} needs more memory than allowed to read, so it can't be checked")]
    sender.send(items)
    sender.close()
