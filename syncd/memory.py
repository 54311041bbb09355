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
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


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
    """Give the C heap's free pages back to the system (a few ms; no-op without glibc).

    Called when a phase that allocated a lot has ended and before the next begins: before
    segmentation (after the pull) and after it.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
