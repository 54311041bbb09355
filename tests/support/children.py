"""Child processes for the daemon tests: start one quietly, read what it records, stop it.

The tests that run real daemons (test_daemons, test_fleet) start a small script as a child
process and meet it through files; these helpers are the part they share.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol


class Spawn(Protocol):
    """The `spawn` fixture of tests/integration: start the test module's `SCRIPT` as a child
    with argv `url, work folder, name, mode, *args`; its stderr goes to `<work>/<name>.log`."""

    def __call__(self, url: str, name: str, mode: str, *args: str) -> subprocess.Popen[bytes]: ...


def spawn_child(
    procs: list[subprocess.Popen[bytes]], script: Path, log: Path, args: list[str]
) -> subprocess.Popen[bytes]:
    """Run `script` with `args` in this Python, its stderr into `log`, and remember it in
    `procs` (the conftest fixture that kills leftovers). The child gets no `SYNCD_*`
    variables, so the test's own settings cannot leak into the daemon's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    procs.append(proc)
    return proc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The whole records a child has written to `path` so far (none when it has not started);
    a line still being written is skipped."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def stop_child(proc: subprocess.Popen[bytes], deadline: float) -> int:
    """Ask a child to stop as the service manager would (SIGTERM); its exit code."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(deadline)
