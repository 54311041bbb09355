"""Waiting for something another thread or process makes true: one helper, no fixed sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

#: A generous deadline: it only matters when the awaited thing never happens.
DEADLINE_S = 30.0


def eventually(
    predicate: Callable[[], bool], what: str = "a condition", timeout: float = DEADLINE_S
) -> bool:
    """Poll `predicate` every 10 ms until it holds; returns True, or fails naming `what`.

    Raises:
        AssertionError: The deadline passed first.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.01)
    return True


def process_stopped(pid: int) -> bool:
    """Whether process `pid` is stopped (SIGSTOP): its state in /proc is `T`."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "T"
