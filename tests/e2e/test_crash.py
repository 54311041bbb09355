"""Killed with SIGKILL mid-apply and restarted: nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from structlog.testing import capture_logs

from syncd.engine.writers import BATCHES_IN_FLIGHT
from syncd.http import RetrySettings
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from syncd.store import AuditEvent, OutboxState, RunStatus, SyncRun, upgrade
from syncd.store.models import OutboxEntry
from syncd.store.types import table_of
from tests.e2e.helpers import ledger_members, make_settings, remote_lists, remote_tags
from tests.support.polling import eventually, process_stopped
from tests.support.sandboxes import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
CONTACTS, SEED = 400, 11


def write_calls(sb: Sandbox) -> int:
    stats = sb.stats()
    return int(stats["hubspot"]["writes"] + stats["mailchimp"]["writes"])


def clean_run_writes(tmp_path: Path) -> int:
    """Write calls of an uninterrupted first sync of the same data."""
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    upgrade(url)
    with start_sandbox(CONTACTS, SEED) as sb:
        rt = open_runtime(make_settings(sb, url), retry=RetrySettings.immediate())
        try:
            assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
        finally:
            rt.close()
        return write_calls(sb)


def test_sigkill_mid_apply_then_resume(db_url: str, tmp_path: Path) -> None:
    reference = clean_run_writes(tmp_path)
    with start_sandbox(CONTACTS, SEED) as sb:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.sync_child",
                sb.hubspot_url,
                sb.mailchimp_url,
                sb.audience_id,
                db_url,
                "--stop-after-batches",
                "3",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        applied = 0
        for line in child.stdout:
            applied += line.startswith("applied")
            if applied == 3:
                break
        assert applied == 3, "the child finished before its third batch"
        # It stops itself after the third batch (its other apply threads mid-flight), so the
        # kill lands with the run unfinished however late this process gets to send it.
        eventually(lambda: process_stopped(child.pid), "the child to stop")
        child.kill()  # SIGKILL: no cleanup, no finally blocks
        child.wait(timeout=60)
        rt = open_runtime(make_settings(sb, db_url), retry=RetrySettings.immediate())
        try:
            with rt.db.connect() as conn:
                o = table_of(OutboxEntry).c
                states = Counter(s for (s,) in conn.execute(select(o.state)))
                killed = conn.execute(select(table_of(SyncRun).c.id)).scalar_one()
            assert states[OutboxState.DONE] > 0
            assert states[OutboxState.PENDING] + states[OutboxState.IN_FLIGHT] > 0
            with capture_logs() as logs:
                resumed = rt.syncer.sync(trigger="manual")
            assert resumed.status is RunStatus.SUCCESS, resumed.error
            # The dead process's lease was taken over at once (same host, PID gone), not
            # after its TTL, and its run was closed with the figures it reached.
            assert any(e["event"] == "lease.taken_over" for e in logs)
            with rt.db.connect() as conn:
                run = (
                    conn.execute(select(table_of(SyncRun)).where(table_of(SyncRun).c.id == killed))
                    .mappings()
                    .one()
                )
                left = conn.execute(
                    select(o.id).where(o.state.in_([OutboxState.PENDING, OutboxState.IN_FLIGHT]))
                ).all()
            assert run["status"] == RunStatus.INTERRUPTED and run["finished_at"] is not None
            assert sum(t.get("added", 0) for t in run["counts"]["targets"].values()) > 0
            assert left == []  # every in-flight row was resolved
            # Converged: the remote equals the ledger and nothing is left to do.
            for name, members in remote_lists(sb).items():
                key = name.removeprefix("syncd: ")
                assert members == ledger_members(rt, f"hubspot_list:{key}")
            for name, members in remote_tags(sb).items():
                if name.startswith("syncd:"):
                    key = name.removeprefix("syncd:")
                    assert members == ledger_members(rt, f"mailchimp_tag:{key}")
            assert rt.syncer.plan_only().plan.changes == []
            # Each change was confirmed once: no duplicate audit rows for one membership.
            with rt.db.connect() as conn:
                a = table_of(AuditEvent).c
                rows = conn.execute(
                    select(a.target, a.contact_id, a.action).where(a.outcome == "applied")
                ).all()
            assert max(Counter(rows).values()) == 1
            converged_writes = write_calls(sb)
            # An interrupted run can be undone like any other (through the same guards).
            undone = rt.syncer.undo(killed)
            # (Partial: guards held some targets and the others were applied.)
            held_some = undone.status is RunStatus.PARTIAL and bool(undone.counts.held)
            assert undone.status in (RunStatus.SUCCESS, RunStatus.HELD) or held_some, undone.error
        finally:
            rt.close()
        # At most the batches in flight on each API (one window per API thread) were sent again.
        assert converged_writes <= reference + sum(BATCHES_IN_FLIGHT.values())
