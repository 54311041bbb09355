"""`syncd check` names the real cause of a 401 and of a 403, over real HTTP on loopback.

A tiny server answers every HubSpot call with the status under test and HubSpot's error body.
A 401 is the token itself (replace it); a 403 is a missing scope, and check then prints every
scope syncd needs, from the one list in `connectors.hubspot.scopes`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.hubspot.scopes import REQUIRED_SCOPES
from syncd.cli import app
from syncd.store import upgrade

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
runner = CliRunner()

_BODIES = {
    401: {"status": "error", "category": "INVALID_AUTHENTICATION", "message": "expired"},
    403: {
        "status": "error",
        "category": "MISSING_SCOPES",
        "message": "This app hasn't been granted all required scopes to make this call.",
    },
}


def _server(status: int) -> ThreadingHTTPServer:
    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(_BODIES[status]).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Refusing)


@pytest.fixture(params=[401, 403])
def refusing(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    server = _server(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield request.param, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_check_names_the_cause_of_a_refusal(
    refusing: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, url = refusing
    monkeypatch.chdir(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 'c.db'}")
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path / 'c.db'}\nmappings: {MAPPINGS}\n"
        f"hubspot: {{access_token: pat-na1-secret-token, base_url: '{url}'}}\n"
        "retry: {max_attempts: 1, initial_wait_s: 0, max_wait_s: 0, jitter_s: 0}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "-c", str(config)])
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "pat-na1-secret-token" not in result.stdout + result.stderr
    assert "check failed: hubspot" in result.stdout
    listed = [scope for scope in REQUIRED_SCOPES if scope in result.stderr]
    if status == 401:
        assert "refused the access token" in result.stderr
        assert listed == []
    else:
        assert "lacks a scope" in result.stderr
        assert listed == list(REQUIRED_SCOPES)
