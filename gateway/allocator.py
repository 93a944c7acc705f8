"""The C allocator of a Detour process, tuned for large uploads read one after another.

A 10 MB upload is decoded, split into cells and joined again: each step takes a
fresh block of about the upload's size. glibc hands blocks that large out as new
mappings and returns them to the system when freed, so every upload pays for
its pages again (measured: ~18,000 page faults, about a sixth of the time of a
full scan of a 10 MB contact list). Here blocks up to glibc's largest threshold
come from the heap, and up to ``keep`` bytes of freed heap stay with the
process for the next upload. One heap (arena) for all threads keeps that
bound per process (glibc trims each arena on its own; Python allocates under
its interpreter lock, so threads hardly wait for it).

Linux with glibc only; elsewhere (musl, macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest glibc takes: smaller blocks come from the heap
MOST_KEPT = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory(keep: int) -> bool:
    """Let the process keep up to ``keep`` bytes of freed heap for later uploads (0: glibc's defaults, nothing
    changed). True when the allocator took it; False, changing nothing, without glibc."""
    if keep <= 0 or not sys.platform.startswith("linux"):
        return False
    if keep > MOST_KEPT:
        raise ValueError(f"at most {MOST_KEPT} bytes can be kept (glibc takes a C int)")
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):  # musl (Alpine) and others: their own allocators
        log.debug("not glibc: the allocator's defaults stay")
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, keep))
    refused = [parameter for parameter, value in settings if not mallopt(parameter, value)]
    if refused:
        log.warning("the allocator refused some of its settings (mallopt %s): freed memory may not be kept",
                    refused)
    return not refused
