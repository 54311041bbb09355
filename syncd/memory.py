"""Freed memory handed back to the operating system, so a run's peak is its own.

Allocators keep what a phase freed for reuse, so a process's resident size stays near the
highest it has been and the next phase starts from there. Two allocators matter:
- glibc's, behind Python's objects: loading 100k profiles for segmentation left about 60 MB
  of free heap behind. `release_free_memory` (glibc's `malloc_trim`) returns it; only glibc
  has it, elsewhere (musl, macOS) it does nothing.
- polars' jemalloc, behind the decoded columns: by default freed pages are handed back lazily
  (`MADV_FREE`) and count as resident until the kernel needs them. `syncd.POLARS_ALLOCATOR`
  returns them outright (`muzzy_decay_ms:0`), at no measured cost in speed; loading 100k
  profiles twice peaked at 334 MB instead of 343-384. It must be set before polars is first
  imported, so `syncd/__init__.py` sets it; a setting of the user's own is kept.

Python's cyclic garbage collector is tuned too (`tune_collector`): with its default young
threshold, objects a pull holds for a moment (pages in flight, items waiting for their
associations) outlive the young passes, are promoted, and set off a full collection every
second or so, each holding the GIL for about 0.1 s.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from collections.abc import Callable

#: Python's own collector thresholds: what `tune_collector` replaces, and nothing else.
PYTHON_THRESHOLDS = (700, 10, 10)
#: A young pass per 50,000 net container allocations instead of 700.
SYNC_THRESHOLDS = (50_000, 10, 10)


def tune_collector() -> None:
    """Let young objects die young: the collector's first threshold raised to 50,000.

    Called when a runtime opens (daemon, command line). A 100k-contact first sync made 94 full
    collections with Python's thresholds (10 s with the GIL held, most of it beside the pull
    and merge); with these it made none, and its CPU fell from 84 to 71 s. Whatever the
    threshold, each run's garbage is collected at its phase boundaries
    (`release_free_memory`). A process whose thresholds are not Python's own (a host that
    tuned them) is left alone.
    """
    if gc.get_threshold() == PYTHON_THRESHOLDS:
        gc.set_threshold(*SYNC_THRESHOLDS)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no C library symbols, or not glibc
        return None
    return trim


def release_free_memory() -> None:
    """Collect cyclic garbage, then give the C heap's free pages back to the system.

    Called when a phase that allocated a lot has ended and before the next begins: before
    segmentation (after the pull) and after it. The full collection (tens of ms at 100k
    contacts) frees the phase's cycles first, so their pages are among those handed back;
    the hand-back is a no-op without glibc.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
