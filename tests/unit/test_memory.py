"""Handing free heap pages back to the system between phases (`syncd.memory`)."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import weakref

import pytest

from syncd import memory


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's; elsewhere a no-op"
)
def test_glibc_frees_what_python_let_go() -> None:
    assert memory._malloc_trim() is not None
    before = _resident_kb()
    blocks = [bytes(1000) + str(i).encode() for i in range(200_000)]  # ~200 MB of heap
    kept = blocks[::50]  # a few survivors pin the heap: glibc keeps the free pages between
    del blocks
    memory.release_free_memory()
    assert _resident_kb() < before + 50_000  # most of the 200 MB went back
    assert len(kept) == 4000


def test_without_malloc_trim_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        memory.release_free_memory()  # no error
    finally:
        memory._malloc_trim.cache_clear()


def _resident_kb() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4  # pages of 4 KiB


@pytest.mark.parametrize(
    ("own", "tail"),
    [(None, ",muzzy_decay_ms:0"), ("narenas:2", ",narenas:2")],
)
def test_polars_allocator_returns_freed_pages_unless_the_user_chose(
    own: str | None, tail: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if own is not None:
        env["_RJEM_MALLOC_CONF"] = own
    out = subprocess.run(
        [sys.executable, "-c", "import syncd, polars; print(polars.jemalloc_conf)"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.strip().endswith(tail)  # polars appends it to its own defaults


def test_the_collector_is_tuned_only_from_pythons_own_thresholds() -> None:
    was = gc.get_threshold()
    try:
        gc.set_threshold(*memory.PYTHON_THRESHOLDS)
        memory.tune_collector()
        assert gc.get_threshold() == memory.SYNC_THRESHOLDS
        gc.set_threshold(2_000, 5, 5)  # a host's own tuning
        memory.tune_collector()
        assert gc.get_threshold() == (2_000, 5, 5)
    finally:
        gc.set_threshold(*was)


def test_release_collects_cycles_even_with_the_collector_off() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    probe = weakref.ref(Node())  # a cycle: only the collector can free it
    assert probe() is not None
    was = gc.isenabled()
    gc.disable()
    try:
        memory.release_free_memory()
        assert probe() is None
    finally:
        if was:
            gc.enable()
