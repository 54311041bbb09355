"""Two daemon processes, three workspaces, one PostgreSQL: each workspace once per cycle.

Each daemon is a child process running a `Fleet` over the same three workspaces with a job
that records its start and end (daemon, pid, workspace, cycle, lease holder) in a shared
JSON-lines file; the test reads that file. A daemon killed mid-run must see its workspace
run by the other daemon in the same cycle, within the lease TTL.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from syncd.store import upgrade
from tests.support.children import Spawn, read_jsonl, stop_child
from tests.support.polling import eventually

DEADLINE = 30.0
WORKSPACES = ["north", "south", "east"]
TTL_S = 10

SCRIPT = r"""
import json, os, signal, sys, threading, time
from datetime import timedelta
from pathlib import Path

from syncd.daemon.fleet import Fleet
from syncd.logs import configure_logging
from syncd.store import make_engine

url, work, name, mode, every = sys.argv[1:6]
work = Path(work)
configure_logging("info", "json")
db = make_engine(url)
fleet = None


def record(event, workspace, **extra):
    line = {"daemon": name, "pid": os.getpid(), "event": event, "workspace": workspace,
            "cycle": fleet.cycle, "t": time.time(), **extra}
    with open(work / "runs.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


def job(workspace, trigger, stop, lease):
    record("start", workspace, holder=lease.holder)
    if mode == "hang":
        stop.wait(3600)  # killed by the test while it runs
    else:
        stop.wait(0.05)  # a little work, so that runs of the two daemons interleave
    record("end", workspace, holder=lease.holder)


fleet = Fleet(db, sys.argv[6].split(","), job, every=timedelta(seconds=float(every)),
              lease_ttl=timedelta(seconds=int(sys.argv[7])), poll=0.05)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the serving thread too
serving = threading.Thread(target=fleet.serve)
serving.start()
signal.sigwait({signal.SIGTERM})
fleet.request_stop()
serving.join()
db.dispose()
"""


#: A cycle no test outlasts: about 31 years.
ONE_CYCLE_S = 10**9


def fleet_args(every: int) -> list[str]:
    """The fleet script's own argv: seconds between cycles, the workspaces, the lease TTL."""
    return [str(every), ",".join(WORKSPACES), str(TTL_S)]


def lines(work: Path) -> list[dict[str, Any]]:
    return read_jsonl(work / "runs.jsonl")


def ends(work: Path) -> list[dict[str, Any]]:
    return [x for x in lines(work) if x["event"] == "end"]


def stop(proc: subprocess.Popen[bytes]) -> int:
    return stop_child(proc, DEADLINE)


@pytest.mark.postgres
def test_two_daemons_sync_every_workspace_exactly_once_per_cycle(
    postgres_url: str, tmp_path: Path, spawn: Spawn
) -> None:
    upgrade(postgres_url)
    # Cycles of 5 s: room for three runs each even when both daemons stall on a loaded host.
    a = spawn(postgres_url, "A", "work", *fleet_args(5))
    b = spawn(postgres_url, "B", "work", *fleet_args(5))
    eventually(
        lambda: len({x["cycle"] for x in ends(tmp_path)}) >= 4,
        "runs in four cycles",
        timeout=2 * DEADLINE,
    )
    assert stop(a) == 0
    assert stop(b) == 0
    done = ends(tmp_path)
    per_cycle: dict[int, Counter[str]] = {}
    for x in done:
        per_cycle.setdefault(x["cycle"], Counter())[x["workspace"]] += 1
    cycles = sorted(per_cycle)
    assert cycles == list(range(cycles[0], cycles[-1] + 1)), "a cycle was skipped"
    for cycle in cycles:  # never twice in a cycle
        assert max(per_cycle[cycle].values()) == 1, (cycle, per_cycle[cycle])
    # Every workspace in every whole cycle (the daemons started and stopped mid-cycle).
    for cycle in cycles[1:-1]:
        assert per_cycle[cycle] == Counter(WORKSPACES), (cycle, per_cycle[cycle])
    assert {x["daemon"] for x in done} == {"A", "B"}  # both daemons took a share
    for x in done:
        assert f"/pid-{x['pid']}/" in x["holder"]  # each ran under its own lease
    for workspace in WORKSPACES:  # never two runs of one workspace at once
        runs = _windows([x for x in lines(tmp_path) if x["workspace"] == workspace])
        for earlier, later in itertools.pairwise(runs):
            assert earlier["end"] <= later["start"], (earlier, later)


@pytest.mark.postgres
def test_a_killed_daemons_workspace_runs_on_the_other_within_the_ttl(
    postgres_url: str, tmp_path: Path, spawn: Spawn
) -> None:
    upgrade(postgres_url)
    # One cycle for the whole test (an hour-long one could turn over mid-test).
    a = spawn(postgres_url, "A", "hang", *fleet_args(ONE_CYCLE_S))
    eventually(lambda: any(x["daemon"] == "A" for x in lines(tmp_path)), "A to start a run")
    stuck = next(x for x in lines(tmp_path) if x["daemon"] == "A")
    b = spawn(postgres_url, "B", "work", *fleet_args(ONE_CYCLE_S))
    others = set(WORKSPACES) - {stuck["workspace"]}
    eventually(lambda: {x["workspace"] for x in ends(tmp_path)} == others, "B to run the other two")
    assert not any(x["workspace"] == stuck["workspace"] for x in lines(tmp_path)[1:])
    killed_at = time.time()
    a.kill()
    a.wait(DEADLINE)
    eventually(
        lambda: any(x["workspace"] == stuck["workspace"] for x in ends(tmp_path)),
        "B to take over the killed daemon's workspace",
    )
    assert stop(b) == 0
    done = ends(tmp_path)
    assert Counter(x["workspace"] for x in done) == Counter(WORKSPACES)  # once each
    assert {x["daemon"] for x in done} == {"B"}
    assert {x["cycle"] for x in done} == {stuck["cycle"]}  # the same cycle
    taken = next(x for x in done if x["workspace"] == stuck["workspace"])
    assert taken["t"] - killed_at < TTL_S


def _windows(records: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Pair one workspace's start and end lines into run windows, ordered by start."""
    starts = [x["t"] for x in records if x["event"] == "start"]
    finishes = [x["t"] for x in records if x["event"] == "end"]
    return sorted(
        ({"start": s, "end": e} for s, e in zip(starts, finishes, strict=False)),
        key=lambda w: w["start"],
    )
