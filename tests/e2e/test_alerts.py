"""Alerts end to end: a real local HTTP receiver gets `run.held` once and `hold.decided`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from syncd.cli import app
from syncd.config import AlertSettings
from syncd.http import RetrySettings
from syncd.runtime import Runtime, open_runtime
from syncd.sandbox import Sandbox
from tests.e2e.helpers import make_settings


class Receiver:
    """An incoming-webhook stand-in: records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/s3cr3t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()


def _runtime(sandbox: Sandbox, db_url: str, url: str, **safety: Any) -> Runtime:
    settings = make_settings(sandbox, db_url, **safety)
    settings = settings.model_copy(
        update={"alerts": AlertSettings(webhooks=[SecretStr(url)], console_url="http://c")}
    )
    return open_runtime(settings, retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0))


def test_a_hold_alerts_once_and_its_decision_alerts(
    sandbox: Sandbox, db_url: str, receiver: Receiver
) -> None:
    rt = _runtime(sandbox, db_url, receiver.url)
    strict = _runtime(sandbox, db_url, receiver.url, max_removals=5)
    try:
        rt.syncer.sync(trigger="manual", full=True)
        with sandbox.state_lock():
            for contact in sandbox.hubspot.contacts.values():
                contact.props.pop("lifecyclestage", None)
        held = strict.syncer.sync(trigger="reconcile", full=True)
        for _ in range(3):
            strict.syncer.sync(trigger="schedule")
        assert strict.notifier is not None
        strict.notifier.flush()
        assert receiver.events() == ["run.held"]
        body = receiver.bodies[0]
        assert set(body) == {
            "event", "workspace", "run_id", "status", "targets", "summary", "text", "console_url"
        }  # fmt: skip
        assert body["run_id"] == held.run_id and body["targets"] == sorted(held.counts.held)
        assert body["console_url"] == f"http://c/runs/{held.run_id}"
        assert "\n" not in body["text"] and "holds" in body["text"]
        strict.syncer.release(held.run_id or 0, by="ben")
        strict.notifier.flush()
        assert receiver.events() == ["run.held", "hold.decided"]
        decided = receiver.bodies[1]
        assert decided["summary"] == {"decision": "released", "by": "ben"}
        assert "ben" in decided["text"]
    finally:
        rt.close()
        strict.close()


def test_an_unreachable_webhook_never_fails_a_sync(sandbox: Sandbox, db_url: str) -> None:
    rt = _runtime(sandbox, db_url, "http://127.0.0.1:9/hook")
    try:
        from syncd.store import RunStatus

        first = rt.syncer.sync(trigger="manual", full=True)
        assert first.status is RunStatus.SUCCESS
    finally:
        rt.close()


def test_alerts_test_command_reaches_the_receiver(
    sandbox: Sandbox, db_url: str, receiver: Receiver, tmp_path: Any
) -> None:
    path = tmp_path / "syncd.yaml"
    path.write_text(
        f"database_url: {db_url}\nalerts: {{webhooks: ['${{HOOK_URL}}']}}\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["alerts", "test", "--config", str(path)], env={"HOOK_URL": receiver.url}
    )
    assert result.exit_code == 0, result.output
    assert "127.0.0.1: delivered" in result.stdout
    assert "s3cr3t" not in result.stdout + result.stderr
    assert receiver.events() == ["test"]
