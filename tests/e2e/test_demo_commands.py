"""From a checkout: `syncd demo`, then every command it prints, verbatim, in a fresh shell.

The demo runs as `make demo` runs it (`.venv/bin/syncd demo` from the directory holding
`.venv`); each printed command then runs through `sh -c` with a plain PATH (no virtualenv
activated). The console's command serves until stopped: it must answer on its port. With
`--serve` the emulator stays up where `syncd-demo.yaml` points and a live sync succeeds.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.polling import eventually

VENV = Path(sys.executable).parent.parent
FRESH_PATH = "/usr/local/bin:/usr/bin:/bin"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shell(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env={"PATH": FRESH_PATH, "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory with `.venv` in it, as a clone has after `make demo`."""
    (tmp_path / ".venv").symlink_to(VENV)
    return tmp_path


def _printed_commands(output: str) -> list[str]:
    return [m.group(1).split("  #")[0].strip() for m in re.finditer(r"^  (\S.*)$", output, re.M)]


def test_every_printed_command_runs_verbatim(checkout: Path) -> None:
    demo = _shell(".venv/bin/syncd demo --contacts 300", checkout)
    assert demo.returncode == 0, demo.stderr
    assert (checkout / "syncd-demo.yaml").is_file() and (checkout / "syncd-demo.db").is_file()
    commands = [c for c in _printed_commands(demo.stdout) if c.startswith(".venv/bin/syncd ")]
    assert len(commands) >= 6, demo.stdout
    served = [c for c in commands if " ui " in c]
    assert served, "the demo names the console"
    for command in commands:
        if command in served:
            continue
        done = _shell(command, checkout)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr
    port = _free_port()
    console = subprocess.Popen(
        ["sh", "-c", served[0]],
        cwd=checkout,
        env={"PATH": FRESH_PATH, "HOME": str(checkout), "SYNCD_UI__PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        eventually(lambda: _answers(port) or console.poll() is not None, "the console")
        assert console.poll() is None, console.communicate()
    finally:
        os.killpg(console.pid, signal.SIGTERM)
        console.communicate(timeout=30)


def test_demo_serve_keeps_the_emulator_where_the_config_points(checkout: Path) -> None:
    port = _free_port()
    demo = subprocess.Popen(
        [".venv/bin/syncd", "demo", "--contacts", "200", "--serve", "--port", str(port)],
        cwd=checkout,
        env={"PATH": FRESH_PATH, "HOME": str(checkout)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        for text in demo.stdout:
            seen.append(text)
            if "stops it" in text:
                break
        assert any(f"SYNCD_HUBSPOT__BASE_URL=http://127.0.0.1:{port}" in s for s in seen), seen
        live = _shell(".venv/bin/syncd sync -c syncd-demo.yaml", checkout)
        assert live.returncode == 0, live.stdout + live.stderr
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.communicate(timeout=30)
    assert demo.returncode == 0


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def test_the_console_serves_any_migrated_database_without_vendor_settings(
    tmp_path: Path,
) -> None:
    db = tmp_path / "plain.db"
    env = {
        "PATH": FRESH_PATH,
        "HOME": str(tmp_path),
        "SYNCD_DATABASE_URL": f"sqlite:///{db}",
        "SYNCD_MAPPINGS": str(Path(__file__).resolve().parents[2] / "mappings"),
    }
    syncd = str(VENV / "bin" / "syncd")
    assert subprocess.run([syncd, "db", "upgrade"], env=env, check=False).returncode == 0
    port = _free_port()
    console = subprocess.Popen(
        [syncd, "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: _answers(port) or console.poll() is not None, "the console")
        assert console.poll() is None, console.communicate()
    finally:
        console.send_signal(signal.SIGTERM)
        console.communicate(timeout=30)
