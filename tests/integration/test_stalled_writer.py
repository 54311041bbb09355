"""PostgreSQL: a writer paused *inside* a fenced transaction cannot block the next writer.

Its transaction holds the lease row's lock. The server ends a session that sits idle in a
transaction longer than the lease TTL (`make_engine(stall_timeout=...)`), which frees the lock;
the lease has expired by then, so the next writer takes it over. When the paused writer wakes
up, its transaction is gone: nothing it wrote is committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.store import lease, make_engine, upgrade
from tests.support.polling import eventually, process_stopped

ROOT = Path(__file__).resolve().parents[2]
TTL = timedelta(seconds=2)
CHILD = r"""
import os, signal, sys
from datetime import timedelta
from sqlalchemy import text
from syncd.logs import configure_logging
from syncd.store import lease
from syncd.store import make_engine

configure_logging("info", "json")
engine = make_engine(sys.argv[1], stall_timeout=timedelta(seconds=2))
ttl = timedelta(seconds=2)
with lease.hold(engine, "apply:default", "stalled", ttl, heartbeat=3600) as held:
    try:
        with lease.fenced(engine, held) as conn:
            conn.execute(text("UPDATE sync_runs SET trigger = 'stalled'"))
            print("inside", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
            conn.execute(text("UPDATE sync_runs SET trigger = 'stalled-2'"))
        print("committed", flush=True)
    except Exception as exc:
        print(f"refused {type(exc).__name__}", flush=True)
"""


@pytest.mark.postgres
def test_a_writer_stalled_in_a_transaction_is_overtaken_after_the_ttl(postgres_url: str) -> None:
    upgrade(postgres_url)
    db = make_engine(postgres_url)
    with db.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO sync_runs (workspace, trigger, status, "full", dry_run, started_at,'
                " counts, api_calls, http_429) VALUES ('default', 'manual', 'success', false,"
                " false, now(), '{}', 0, 0)"
            )
        )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, postgres_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "inside"
        eventually(lambda: process_stopped(child.pid), "the child to stop itself")
        with lease.hold(db, "apply:default", "next", TTL, timeout=60, poll=0.1) as held:
            assert held.fence == 2
        child.send_signal(signal.SIGCONT)
        out, _ = child.communicate(timeout=60)
        assert out.startswith("refused"), out
        with db.connect() as conn:
            assert conn.execute(text("SELECT trigger FROM sync_runs")).scalar_one() == "manual"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)
        db.dispose()
