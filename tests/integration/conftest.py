"""Fixtures shared by the integration tests that start daemons as child processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

#: Seconds a leftover child gets to exit after it was killed.
KILL_WAIT_S = 30.0


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes a test starts; any still running at the end (a test failed half-way)
    are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(KILL_WAIT_S)
