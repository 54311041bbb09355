"""The daemon (`syncd run`): runs under the apply lease, on the schedule, until a signal.

Every run goes through `Daemon.run_once`, which takes the database lease `apply:<workspace>`
first, so an incremental and a reconcile never overlap, in this process or across daemons
sharing a database: the second one waits and logs who holds the lease. The schedule itself is
APScheduler wiring (`syncd.daemon.scheduler`); the job is the engine's concern (a callable
`job(trigger, stop, lease)`, see `syncd.daemon.jobs`).

SIGTERM or SIGINT sets `stop`; the daemon lets the batch in flight finish, shuts the scheduler
down waiting for the job, releases the lease, stops the metrics endpoint and returns. `serve`
composes it all for `syncd run`: one runtime for the daemon's life, the metrics endpoint and,
with `ui.enabled`, the admin console.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from syncd.config import Settings
from syncd.daemon.jobs import sync_job
from syncd.daemon.metrics import Metrics, MetricsServer, RunFigures
from syncd.daemon.scheduler import add_jobs, make_scheduler
from syncd.errors import classify
from syncd.events import Event
from syncd.logs import get_logger, run_context
from syncd.runtime import open_runtime
from syncd.store import open_store
from syncd.store.held import HealthFacts, health_facts
from syncd.store.lease import (
    APPLY_LEASE_TTL,
    Clock,
    HeldLease,
    LeaseBusyError,
    apply_lease_name,
    hold,
    make_holder_id,
)
from syncd.store.types import utcnow

Job = Callable[[str, threading.Event, HeldLease], RunFigures | None]
"""One sync cycle: `job(trigger, stop, lease)`, run under `lease` (hand it to the engine, which
fences its writes with it); None means no cycle ran (nothing is recorded)."""

log = get_logger(__name__)


class Daemon:
    """Runs `job` on the schedule under the apply lease until stopped.

    Args:
        settings: Schedule, workspace, database and metrics endpoint settings.
        job: One sync cycle, see `Job`.
        metrics: Where runs are counted; a fresh `Metrics` by default, stale after three
            missed incremental intervals.
        db: Database for the lease; opened (and disposed of) from settings by default.
        lease_ttl: How long the lease outlives a daemon that died without releasing it.
        lease_poll: Seconds between attempts while another holder has the lease.
        clock: Current time, injectable for tests.
    """

    def __init__(
        self,
        settings: Settings,
        job: Job,
        *,
        metrics: Metrics | None = None,
        db: Engine | None = None,
        lease_ttl: timedelta = APPLY_LEASE_TTL,
        lease_poll: float = 2.0,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.lease_name = apply_lease_name(settings.workspace)
        self.stop_event = threading.Event()
        self._job = job
        self._owns_db = db is None
        self._db = db if db is not None else open_store(settings.database_url)
        self.metrics = metrics or Metrics(
            staleness=3 * settings.schedule.incremental_every,
            workspace=settings.workspace,
            facts=self._health_facts,
        )
        self._lease_ttl = lease_ttl
        self._lease_poll = lease_poll
        self._clock = clock
        self._active: set[threading.Event] = set()
        self._active_lock = threading.Lock()
        self._server: MetricsServer | None = None
        self._stopped = False
        self.scheduler = make_scheduler(settings.schedule)

    def _health_facts(self) -> HealthFacts:
        with self._db.connect() as conn:
            return health_facts(conn, self.settings.workspace)

    @property
    def metrics_port(self) -> int | None:
        """The bound metrics port, or None when the endpoint is disabled or not started."""
        return self._server.port if self._server is not None else None

    def run_once(self, trigger: str) -> RunFigures | None:
        """Run one cycle under the lease; never raises for a failing job.

        Waits for the lease while another run holds it. The job receives a stop flag of its
        own, set when the daemon stops or the lease is lost. An exception from the job (or
        from the lease's database) is logged and counted as a failed run.

        Returns:
            The run's figures (also recorded in `metrics`), or None when no cycle ran.
        """
        if self.stop_event.is_set():
            return None
        run_stop = threading.Event()
        with self._active_lock:
            self._active.add(run_stop)
            if self.stop_event.is_set():
                run_stop.set()  # stop arrived between the check above and registration
        started = self._clock()
        try:
            with run_context(trigger=trigger), self._under_lease(run_stop) as held:
                started = self._clock()
                figures = self._job(trigger, run_stop, held)
        except LeaseBusyError:
            log.info(Event.DAEMON_RUN_SKIPPED, trigger=trigger)
            return None
        except Exception as exc:  # a failing run must never kill the daemon
            # The engine writes each run's one canonical line (`run.finished`); a job that
            # raised never got that far, so this is its only line, with the stack of the bug.
            log.exception(Event.RUN_FAILED, trigger=trigger, error_class=classify(exc).value)
            figures = RunFigures.failed(trigger, started, self._clock(), exc)
        finally:
            with self._active_lock:
                self._active.discard(run_stop)
        if figures is not None:
            self.metrics.record(figures)
        return figures

    def start(self) -> None:
        """Start the metrics endpoint (if enabled) and the scheduler; returns at once."""
        m = self.settings.metrics
        if m.enabled:
            self._server = MetricsServer(self.metrics, m.host, m.port)
            self._server.start()
        sched = self.settings.schedule
        add_jobs(self.scheduler, sched, self._scheduled)
        self.scheduler.start()
        self.metrics.set_scheduler_running(True)
        log.info(
            Event.DAEMON_STARTED,
            workspace=self.settings.workspace,
            every_s=sched.incremental_every.total_seconds(),
            reconcile_cron=sched.reconcile_cron,
            metrics_port=self.metrics_port,
        )

    def request_stop(self) -> None:
        """Ask running jobs to stop after their batch in flight and stop scheduling new ones."""
        self.stop_event.set()
        with self._active_lock:
            for run_stop in self._active:
                run_stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (or `timeout`); True once stopping."""
        return self.stop_event.wait(timeout)

    def shutdown(self) -> None:
        """Stop for good: wait for the running job, then close the endpoint and the database.

        Each job releases its lease as it returns, so no lease is left behind.
        """
        if self._stopped:
            return
        self._stopped = True
        self.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.metrics.set_scheduler_running(False)
        if self._server is not None:
            self._server.stop()
        if self._owns_db:
            self._db.dispose()
        log.info(Event.DAEMON_STOPPED)

    def _scheduled(self, trigger: str) -> None:
        self.run_once(trigger)

    def _under_lease(self, run_stop: threading.Event) -> AbstractContextManager[HeldLease]:
        return hold(
            self._db,
            self.lease_name,
            make_holder_id(),
            self._lease_ttl,
            wait=True,
            stop=self.stop_event,
            poll=self._lease_poll,
            now=self._clock,
            on_lost=run_stop.set,
        )


def run_until_signal(
    settings: Settings,
    job: Job,
    *,
    metrics: Metrics | None = None,
    install_signals: bool = True,
    **daemon_options: Any,
) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT, then stop gracefully.

    Args:
        settings: See `Daemon`.
        job: See `Daemon`.
        metrics: See `Daemon`.
        install_signals: Handle SIGTERM/SIGINT (main thread only); otherwise the caller stops
            the daemon some other way, e.g. from a job.
        **daemon_options: Passed to `Daemon` (`db`, `lease_ttl`, `lease_poll`, `clock`).
    """
    daemon = Daemon(settings, job, metrics=metrics, **daemon_options)
    received: list[int] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        # Only record it: taking locks (Event.set, logging) inside a handler can deadlock
        # with the very code it interrupted. The loop below acts on it.
        received.append(signum)

    previous: dict[int, Any] = {}
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        daemon.start()
        while not daemon.wait(0.2):
            if received:
                log.info(
                    Event.DAEMON_SIGNAL,
                    signal=signal.Signals(received[0]).name,
                    action="stopping after the batch in flight",
                )
                daemon.request_stop()
    finally:
        daemon.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(settings: Settings) -> None:
    """`syncd run`.

    The daemon, its metrics endpoint and (with `ui.enabled`) the console, in the foreground until
    SIGTERM or SIGINT.
    """
    rt = open_runtime(settings)
    console = None
    try:
        if settings.ui.enabled:
            from syncd.ui import console_for
            from syncd.ui import serve as serve_console

            app, token = console_for(rt)
            console = serve_console(app, settings.ui.host, settings.ui.port, token, background=True)
            log.info(Event.UI_SERVING, url=console.url)
        run_until_signal(
            settings,
            lambda trigger, stop, lease: sync_job(rt, trigger, stop, lease),
            db=rt.db,
            lease_ttl=settings.safety.lease_ttl,
        )
    finally:
        if console is not None:
            console.stop()
        rt.close()
