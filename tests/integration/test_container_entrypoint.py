"""The image's entrypoint, run as a process: a fresh database, configuration from env alone.

`docker/entrypoint.sh` is what the container runs. Started against a database path that does
not exist yet, with no syncd.yaml and only `SYNCD_...` variables (as the README documents for
containers), it must migrate, start the daemon and answer `/healthz`; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sandbox import Sandbox
from syncd.store import current_revision, head_revision, make_engine
from tests.support.polling import eventually
from tests.support.sandboxes import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(contacts=50, seed=3) as sb:
        yield sb


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            body: dict[str, object] = json.loads(resp.read())
            return body
    except OSError:
        return None


def test_entrypoint_migrates_a_fresh_database_and_serves_healthz(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    db_path = tmp_path / "data" / "syncd.db"
    db_path.parent.mkdir()
    port = _free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "SYNCD_DATABASE_URL": f"sqlite:///{db_path}",
        "SYNCD_MAPPINGS": str(ROOT / "mappings"),
        "SYNCD_METRICS__PORT": str(port),
        "SYNCD_HUBSPOT__ACCESS_TOKEN": sandbox.hubspot_token,
        "SYNCD_HUBSPOT__BASE_URL": sandbox.hubspot_url,
        "SYNCD_MAILCHIMP__API_KEY": sandbox.mailchimp_key,
        "SYNCD_MAILCHIMP__BASE_URL": sandbox.mailchimp_url,
        "SYNCD_MAILCHIMP__AUDIENCE_ID": sandbox.audience_id,
        "SYNCD_LOGGING__FORMAT": "json",
    }
    assert not db_path.exists()
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: _healthz(port) is not None or proc.poll() is not None, "/healthz")
        assert proc.poll() is None, proc.communicate()
        body = _healthz(port)
        assert body is not None and body["status"] == "ok"
        db = make_engine(f"sqlite:///{db_path}")
        try:
            assert current_revision(db) == head_revision()
        finally:
            db.dispose()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
