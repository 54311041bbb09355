"""The daemon in-process: job wiring, lease around every run, failures, stop and signals."""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from structlog.testing import capture_logs

from syncd.config import Settings
from syncd.daemon.metrics import Metrics, RunFigures
from syncd.daemon.scheduler import RECONCILE, SCHEDULE
from syncd.daemon.service import Daemon, run_until_signal
from syncd.store import lease, make_engine, upgrade
from syncd.store.lease import HeldLease
from tests.support.polling import eventually

WAIT = 10.0  # generous deadline for events another thread sets


@pytest.fixture(autouse=True)
def _no_syncd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings let SYNCD_* variables override arguments; keep a developer's shell out of it.
    for key in list(os.environ):
        if key.startswith("SYNCD_") and not key.startswith("SYNCD_TEST_"):
            monkeypatch.delenv(key)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'syncd.db'}"
    upgrade(url)
    eng = make_engine(url)
    yield url, eng
    eng.dispose()


def make_settings(url: str, *, metrics: bool = False, every: str = "1h") -> Settings:
    return Settings(
        database_url=url,
        workspace="acme",
        schedule={
            "incremental_every": every,
            "reconcile_cron": "0 3 * * *",
            "misfire_grace": "90s",
        },
        metrics={"enabled": metrics, "host": "127.0.0.1", "port": 0},
    )


def ok(trigger: str, status: str = "success") -> RunFigures:
    now = datetime.now(UTC)
    return RunFigures(run_id=1, trigger=trigger, status=status, started_at=now, finished_at=now)


def runs_total(metrics: Metrics, status: str, trigger: str) -> float | None:
    return metrics.registry.get_sample_value(
        "syncd_runs_total", {"status": status, "trigger": trigger}
    )


def test_jobs_are_wired_as_configured(db: tuple[str, Engine]) -> None:
    url, eng = db
    daemon = Daemon(make_settings(url, every="15m"), lambda t, s, held: None, db=eng)
    daemon.start()
    try:
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert set(jobs) == {SCHEDULE, RECONCILE}
        for job in jobs.values():
            assert job.coalesce is True and job.max_instances == 1
            assert job.misfire_grace_time == 90
        assert isinstance(jobs[SCHEDULE].trigger, IntervalTrigger)
        assert jobs[SCHEDULE].trigger.interval == timedelta(minutes=15)
        assert jobs[SCHEDULE].args == (SCHEDULE,)
        cron = jobs[RECONCILE].trigger
        assert isinstance(cron, CronTrigger)
        assert {f.name: str(f) for f in cron.fields}["hour"] == "3"
        assert jobs[RECONCILE].args == (RECONCILE,)
    finally:
        daemon.shutdown()


def test_first_incremental_run_starts_at_once(db: tuple[str, Engine]) -> None:
    url, eng = db
    triggers: list[str] = []
    ran = threading.Event()

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        triggers.append(trigger)
        ran.set()
        return ok(trigger)

    daemon = Daemon(make_settings(url), job, db=eng)  # every hour: only the first run fits
    daemon.start()
    try:
        assert ran.wait(WAIT)
    finally:
        daemon.shutdown()
    assert triggers == [SCHEDULE]
    assert runs_total(daemon.metrics, "success", SCHEDULE) == 1


def test_run_once_holds_the_workspace_lease_during_the_job(db: tuple[str, Engine]) -> None:
    url, eng = db
    seen: list[lease.LeaseInfo | None] = []

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        seen.append(lease.current(eng, "apply:acme"))
        return ok(trigger, "partial")

    daemon = Daemon(make_settings(url), job, db=eng)
    figures = daemon.run_once(RECONCILE)
    assert figures is not None and figures.status == "partial"
    assert seen[0] is not None and f"/pid-{os.getpid()}/" in seen[0].holder
    assert lease.current(eng, "apply:acme") is None
    assert runs_total(daemon.metrics, "partial", RECONCILE) == 1


def test_failing_job_is_logged_counted_and_the_next_run_still_works(db: tuple[str, Engine]) -> None:
    url, eng = db
    calls: list[str] = []

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        calls.append(trigger)
        if len(calls) == 1:
            raise ValueError("engine bug")
        return ok(trigger)

    daemon = Daemon(make_settings(url), job, db=eng)
    with capture_logs() as logs:
        failed = daemon.run_once(SCHEDULE)
    assert failed is not None and failed.status == "failed" and failed.errors == {"system": 1}
    assert any(e["event"] == "run.failed" and e["log_level"] == "error" for e in logs)
    assert lease.current(eng, "apply:acme") is None
    assert daemon.run_once(SCHEDULE) is not None
    m = daemon.metrics
    assert runs_total(m, "failed", SCHEDULE) == 1 and runs_total(m, "success", SCHEDULE) == 1
    assert m.registry.get_sample_value("syncd_errors_total", {"error_class": "system"}) == 1


def test_job_returning_none_records_nothing(db: tuple[str, Engine]) -> None:
    url, eng = db
    daemon = Daemon(make_settings(url), lambda t, s, held: None, db=eng)
    assert daemon.run_once(SCHEDULE) is None
    assert b"syncd_runs_total{" not in daemon.metrics.exposition()


def test_reconcile_waits_for_a_running_incremental(db: tuple[str, Engine]) -> None:
    url, eng = db
    events: list[str] = []
    incremental_started, release_incremental = threading.Event(), threading.Event()

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        events.append(f"{trigger} start")
        if trigger == SCHEDULE:
            incremental_started.set()
            assert release_incremental.wait(WAIT)
        events.append(f"{trigger} end")
        return ok(trigger)

    daemon = Daemon(make_settings(url), job, db=eng, lease_poll=0.02)
    first = threading.Thread(target=daemon.run_once, args=(SCHEDULE,))
    second = threading.Thread(target=daemon.run_once, args=(RECONCILE,))
    with capture_logs() as logs:
        first.start()
        assert incremental_started.wait(WAIT)
        second.start()
        assert eventually(lambda: any(e["event"] == "lease.waiting" for e in logs))
        assert events == ["schedule start"]
        release_incremental.set()
        first.join(WAIT)
        second.join(WAIT)
    assert events == ["schedule start", "schedule end", "reconcile start", "reconcile end"]
    waiting = next(e for e in logs if e["event"] == "lease.waiting")
    assert waiting["lease"] == "apply:acme" and waiting["holder"]


def test_stop_while_waiting_for_the_lease_skips_the_run(db: tuple[str, Engine]) -> None:
    url, eng = db
    assert lease.acquire(eng, "apply:acme", "other-daemon", timedelta(hours=1))
    called = threading.Event()

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> None:
        called.set()

    daemon = Daemon(make_settings(url), job, db=eng, lease_poll=0.02)
    result: list[RunFigures | None] = []
    with capture_logs() as logs:
        thread = threading.Thread(target=lambda: result.append(daemon.run_once(SCHEDULE)))
        thread.start()
        assert eventually(lambda: any(e["event"] == "lease.waiting" for e in logs))
        daemon.request_stop()
        thread.join(WAIT)
    assert result == [None] and not called.is_set()
    info = lease.current(eng, "apply:acme")
    assert info is not None and info.holder == "other-daemon"


def test_shutdown_stops_the_job_after_its_batch_and_releases(db: tuple[str, Engine]) -> None:
    url, eng = db
    started = threading.Event()
    log: list[str] = []

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        started.set()
        saw_stop = stop.wait(WAIT)  # the engine checks this between batches
        log.append(f"batch finished, stop={saw_stop}")
        return ok(trigger, "partial")

    daemon = Daemon(make_settings(url, metrics=True), job, db=eng)
    daemon.start()
    port = daemon.metrics_port
    assert started.wait(WAIT)
    assert lease.current(eng, "apply:acme") is not None
    daemon.shutdown()  # returns only after the job has returned
    assert log == ["batch finished, stop=True"]
    assert lease.current(eng, "apply:acme") is None
    assert runs_total(daemon.metrics, "partial", SCHEDULE) == 1
    assert daemon.metrics.health()[1]["status"] == "stopped"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_daemon_serves_healthz_after_the_first_run(db: tuple[str, Engine]) -> None:
    url, eng = db
    ran = threading.Event()

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        return ok(trigger)

    daemon = Daemon(make_settings(url, metrics=True), job, db=eng)
    daemon.scheduler.add_listener(lambda _: ran.set(), mask=EVENT_JOB_EXECUTED)
    daemon.start()
    try:
        assert ran.wait(WAIT)
        url_ = f"http://127.0.0.1:{daemon.metrics_port}/healthz"
        with urllib.request.urlopen(url_, timeout=5) as resp:
            body: dict[str, Any] = json.loads(resp.read())
        assert resp.status == 200 and body["status"] == "ok"
        assert body["last_run_status"] == "success" and body["last_success_at"] is not None
    finally:
        daemon.shutdown()


def test_run_daemon_stops_on_sigterm_and_restores_handlers(db: tuple[str, Engine]) -> None:
    url, eng = db
    before = signal.getsignal(signal.SIGTERM)
    saw_stop: list[bool] = []

    def job(trigger: str, stop: threading.Event, held: HeldLease) -> RunFigures:
        os.kill(os.getpid(), signal.SIGTERM)
        saw_stop.append(stop.wait(WAIT))
        return ok(trigger)

    run_until_signal(make_settings(url), job, db=eng)
    assert saw_stop == [True]
    assert signal.getsignal(signal.SIGTERM) is before
    assert lease.current(eng, "apply:acme") is None
