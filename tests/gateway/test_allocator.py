"""The allocator keeps freed memory for the next large upload (Linux, glibc): no fresh pages the second time."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys, threading
from gateway.allocator import keep_freed_memory
took = keep_freed_memory(int(sys.argv[1]))

def faults_of_one_upload():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    text = ("x" * 10_000_000).replace("x", "y")  # ~10 MB blocks, as a decoded upload and its copies
    data = text.encode()
    del text, data
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults_of_one_upload()
again = []  # an inspection thread reuses what the first upload left (one heap for every thread)
thread = threading.Thread(target=lambda: again.append(faults_of_one_upload()))
thread.start()
thread.join()
print(took, max(faults_of_one_upload(), again[0]))
"""


def _run(keep: int) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(keep)], capture_output=True, text=True, check=True,
                         timeout=60)
    took, faults = out.stdout.split()
    return took == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_memory_is_kept_for_the_next_upload() -> None:
    took, faults = _run(256 * 1024 * 1024)
    assert took
    untuned_took, untuned_faults = _run(0)
    assert not untuned_took
    # glibc's defaults map each block afresh (~2,400 pages per 10 MB block); kept memory is reused
    assert untuned_faults > 2_000
    assert faults < untuned_faults // 10


def test_more_than_the_allocator_can_take_is_refused() -> None:
    """glibc takes a C int: 2 GB would wrap around (never trim, or trim everything), so it is refused, and the
    setting stops below it."""
    from pydantic import ValidationError

    from gateway.allocator import MOST_KEPT, keep_freed_memory
    from gateway.settings import Settings

    with pytest.raises(ValueError, match="at most"):
        keep_freed_memory(MOST_KEPT + 1)
    with pytest.raises(ValidationError):
        Settings(heap_keep_mb=2048)
    assert Settings(heap_keep_mb=2047).heap_keep_mb * 1024 * 1024 <= MOST_KEPT

