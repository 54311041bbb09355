"""The console's Approve writes only under the apply lease: while another process holds it,
Approve answers "waiting for <holder>" and the vendors see no call; once it is free, it applies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

from syncd.sandbox import Sandbox
from syncd.store import RunStatus
from syncd.store.history import get_run
from syncd.ui import console_for
from tests.e2e.helpers import RuntimeFactory

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice that httpx has a successor
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = "http://127.0.0.1:8686"
HOLDER = r"""
import sys
from datetime import timedelta
from syncd.logs import configure_logging
from syncd.store import lease
from syncd.store import make_engine

configure_logging("warning", "json")
engine = make_engine(sys.argv[1])
with lease.hold(engine, "apply:default", "other-process/pid-1/abcdef", timedelta(seconds=60)):
    print("held", flush=True)
    sys.stdin.readline()
engine.dispose()
print("released", flush=True)
"""


def _writes(sb: Sandbox) -> int:
    stats = sb.stats()
    return int(stats["hubspot"]["writes"] + stats["mailchimp"]["writes"])


def test_approve_waits_for_the_lease_holder_and_writes_nothing_meanwhile(
    sandbox: Sandbox, make_runtime: RuntimeFactory, db_url: str
) -> None:
    rt = make_runtime()
    assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
    strict = make_runtime(max_removals=5)
    with sandbox.state_lock():
        for contact in sandbox.hubspot.contacts.values():
            contact.props.pop("lifecyclestage", None)
    held = strict.syncer.sync(trigger="reconcile", full=True)
    assert held.status is RunStatus.PARTIAL and held.counts.held and held.run_id is not None
    app, _ = console_for(strict, lease_wait_s=0.3)
    client = TestClient(app, base_url=CONSOLE, follow_redirects=False)
    page = client.get(f"/runs/{held.run_id}/confirm")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None

    def approve() -> tuple[int, str]:
        response = client.post(
            f"/runs/{held.run_id}/approve",
            data={"csrf_token": token.group(1)},
            headers={"origin": CONSOLE},
        )
        return response.status_code, response.text

    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert other.stdin is not None and other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "held"
        before = _writes(sandbox)
        status, body = approve()
        assert status == 409
        assert "waiting for other-process/pid-1/abcdef" in body
        assert "nothing was written" in body
        assert _writes(sandbox) == before  # not one vendor call beside the other writer
        run = get_run(strict.db, "default", held.run_id)
        assert run is not None and run["held_targets"]  # still waiting for a decision
        other.stdin.write("\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "released"
        assert other.wait(timeout=30) == 0
        status, _ = approve()
        assert status == 303
        assert _writes(sandbox) > before
        run = get_run(strict.db, "default", held.run_id)
        assert run is not None and run["status"] == "success"
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(timeout=30)
