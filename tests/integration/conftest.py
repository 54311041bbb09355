"""Fixtures shared by the integration tests that start daemons as child processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.children import Spawn, spawn_child

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


@pytest.fixture
def spawn(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path, request: pytest.FixtureRequest
) -> Spawn:
    """Starts the test module's `SCRIPT` as a daemon child working in `tmp_path` (see `Spawn`);
    the children and the test meet through files there."""
    script = tmp_path / "daemon.py"
    script.write_text(request.module.SCRIPT, encoding="utf-8")

    def start(url: str, name: str, mode: str, *args: str) -> subprocess.Popen[bytes]:
        argv = [url, str(tmp_path), name, mode, *args]
        return spawn_child(procs, script, tmp_path / f"{name}.log", argv)

    return start
