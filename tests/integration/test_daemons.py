"""Real daemon processes: graceful SIGTERM, and two daemons sharing one PostgreSQL.

Each daemon is a child process running a tiny script (written below) whose job records when
it starts and ends into a shared JSON-lines file. The test and the children meet through
files: the test waits for a line to appear, the children wait for a gate file to exist.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from syncd.store import lease, make_engine, upgrade
from tests.support.children import Spawn, read_jsonl, stop_child
from tests.support.polling import eventually

DEADLINE = 20.0

SCRIPT = r"""
import json, os, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncd.logs import configure_logging
from syncd.config import Settings
from syncd.store import lease
from syncd.daemon.metrics import RunFigures
from syncd.daemon.service import run_until_signal
from syncd.store import make_engine

url, work, name, mode, every = sys.argv[1:6]
work = Path(work)
configure_logging("info", "json")
reader = make_engine(url)


def record(event, **extra):
    line = {"daemon": name, "pid": os.getpid(), "event": event, "t": time.time(), **extra}
    with open(work / "windows.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def job(trigger, stop, held):
    started = datetime.now(UTC)
    info = lease.current(reader, "apply:default")
    record("start", holder=info.holder if info else None)
    if mode == "until-stop":
        saw_stop = stop.wait(30)  # like the engine: stop after the batch in flight
    else:
        while not (work / "gate").exists() and not stop.wait(0.01):
            pass  # held by the test until it has seen the other daemon waiting
        saw_stop = stop.is_set()
    record("end", stop=saw_stop)
    return RunFigures(1, trigger, "success", started, datetime.now(UTC))


settings = Settings(
    database_url=url,
    schedule={"incremental_every": every},
    metrics={"enabled": False},
)
run_until_signal(settings, job, lease_ttl=timedelta(seconds=10), lease_poll=0.05)
reader.dispose()
"""


def lines(work: Path) -> list[dict[str, Any]]:
    return read_jsonl(work / "windows.jsonl")


def logs(work: Path, name: str) -> list[dict[str, Any]]:
    text = (work / f"{name}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def stop(proc: subprocess.Popen[bytes]) -> int:
    return stop_child(proc, DEADLINE)


def test_sigterm_finishes_the_job_then_exits_zero_and_releases_the_lease(
    tmp_path: Path, spawn: Spawn
) -> None:
    url = f"sqlite:///{tmp_path / 'syncd.db'}"
    upgrade(url)
    proc = spawn(url, "solo", "until-stop", "1h")
    eventually(lambda: len(lines(tmp_path)) == 1, "the job to start")
    db = make_engine(url)
    try:
        held = lease.current(db, "apply:default")
        assert held is not None and f"/pid-{proc.pid}/" in held.holder
        assert stop(proc) == 0
        assert lease.current(db, "apply:default") is None
    finally:
        db.dispose()
    start, end = lines(tmp_path)
    assert (start["event"], end["event"]) == ("start", "end")
    assert end["stop"] is True  # the job saw the stop flag and returned on its own
    records = logs(tmp_path, "solo")
    events = [e["event"] for e in records]
    assert any(e["event"] == "daemon.signal" and e["signal"] == "SIGTERM" for e in records)
    assert "daemon.stopped" in events
    # The job had ended (its own record) before the daemon said it stopped.
    stopped = next(e for e in records if e["event"] == "daemon.stopped")
    assert end["t"] < datetime.fromisoformat(stopped["timestamp"]).timestamp()


@pytest.mark.postgres
def test_two_daemons_on_one_postgres_never_apply_at_once(
    postgres_url: str, tmp_path: Path, spawn: Spawn
) -> None:
    upgrade(postgres_url)
    first = spawn(postgres_url, "A", "gate", "1s")
    eventually(lambda: any(x["daemon"] == "A" for x in lines(tmp_path)), "A to start applying")
    second = spawn(postgres_url, "B", "gate", "1s")

    def b_waits_for_a() -> bool:
        return any(
            e["event"] == "lease.waiting" and f"/pid-{first.pid}/" in e.get("holder", "")
            for e in logs(tmp_path, "B")
        )

    eventually(b_waits_for_a, "B to log that it waits for A's lease")
    assert [x["event"] for x in lines(tmp_path)] == ["start"]  # B has not started applying
    (tmp_path / "gate").touch()
    eventually(
        lambda: any(x["daemon"] == "B" and x["event"] == "end" for x in lines(tmp_path)),
        "B to apply once A released the lease",
    )
    assert stop(first) == 0
    assert stop(second) == 0

    windows = _windows(lines(tmp_path))
    assert {w["daemon"] for w in windows} == {"A", "B"}
    for earlier, later in itertools.pairwise(windows):
        assert earlier["end"] <= later["start"], f"overlap: {earlier} and {later}"
    for w in windows:
        assert f"/pid-{w['pid']}/" in w["holder"]  # each ran under its own lease
    db: Engine = make_engine(postgres_url)
    try:
        assert lease.current(db, "apply:default") is None
    finally:
        db.dispose()
    waiting = next(e for e in logs(tmp_path, "B") if e["event"] == "lease.waiting")
    assert waiting["lease"] == "apply:default" and waiting["until"]
    assert f"/pid-{first.pid}/" in waiting["holder"]


def _windows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair each daemon's start and end lines into apply windows, ordered by start."""
    open_: dict[str, dict[str, Any]] = {}
    windows = []
    for rec in records:
        if rec["event"] == "start":
            open_[rec["daemon"]] = rec
        else:
            start = open_.pop(rec["daemon"])
            windows.append({**start, "start": start["t"], "end": rec["t"]})
    assert not open_, f"a run never ended: {open_}"
    return sorted(windows, key=lambda w: w["start"])
