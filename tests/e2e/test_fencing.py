"""A writer paused (SIGSTOP) past its lease TTL, overtaken, then resumed: it writes nothing more.

The child process syncs HubSpot with a 3-second lease and stops itself once it has applied a
batch; when its lease has expired another writer (this test) takes over and finishes the sync.
The child is then resumed: its fenced store writes and its pre-call lease check must stop it at
once, so the vendors see no further call from it, and it must end `interrupted` (exit 1), not
crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from syncd.http import RetrySettings
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from syncd.store import RunStatus, SyncRun, lease, make_engine
from syncd.store.types import table_of
from tests.e2e.helpers import ledger_members, make_settings, remote_lists, remote_tags
from tests.support.polling import eventually, process_stopped
from tests.support.sandboxes import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0


def _writes(sb: Sandbox) -> int:
    stats = sb.stats()
    return int(stats["hubspot"]["writes"] + stats["mailchimp"]["writes"])


def _expired(db_url: str) -> bool:
    """Whether the lease row says the (stopped) holder's lease has run out."""
    db = make_engine(db_url)
    try:
        info = lease.current(db, "apply:default")
    finally:
        db.dispose()
    return info is not None and info.expires_at <= datetime.now(UTC)


def test_a_paused_writer_that_was_overtaken_writes_nothing_more(db_url: str) -> None:
    with start_sandbox(400, seed=11) as sb:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.sync_child",
                sb.hubspot_url,
                sb.mailchimp_url,
                sb.audience_id,
                db_url,
                "--lease-ttl=3s",
                "--hubspot-only",
                "--pause-after-first-batch",
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        try:
            first = child.stdout.readline()
            assert first.startswith("applied"), first
            eventually(lambda: process_stopped(child.pid), "the child to stop itself")
            eventually(lambda: _expired(db_url), "the stopped child's lease to expire")
            rt = open_runtime(make_settings(sb, db_url), retry=RetrySettings.immediate())
            try:
                takeover = rt.syncer.sync(trigger="manual", full=True)
                assert takeover.status is RunStatus.SUCCESS, takeover.error
                after_takeover = _writes(sb)
                child.send_signal(signal.SIGCONT)
                out, err = child.communicate("go on\n", timeout=DEADLINE_S)
                assert _writes(sb) == after_takeover  # not one call after the takeover
                assert child.returncode == 1, (out, err)
                assert "done interrupted" in out
                assert "Traceback" not in err and "IntegrityError" not in err
                with rt.db.connect() as conn:
                    r = table_of(SyncRun).c
                    statuses = dict(conn.execute(select(r.id, r.status)).all())
                assert statuses[takeover.run_id] == RunStatus.SUCCESS
                assert sorted(statuses.values()) == sorted(
                    [RunStatus.INTERRUPTED, RunStatus.SUCCESS]
                )
                # Converged: what the vendors hold is what the ledger says syncd added.
                for name, members in remote_lists(sb).items():
                    key = name.removeprefix("syncd: ")
                    assert members == ledger_members(rt, f"hubspot_list:{key}")
                for name, members in remote_tags(sb).items():
                    if name.startswith("syncd:"):
                        key = name.removeprefix("syncd:")
                        assert members == ledger_members(rt, f"mailchimp_tag:{key}")
                assert any(remote_lists(sb).values())
                assert rt.syncer.plan_only().plan.changes == []
            finally:
                rt.close()
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGCONT)
                child.kill()
                child.wait(timeout=DEADLINE_S)
