"""Many workspaces from several daemons sharing one PostgreSQL: each run on exactly one daemon.

Time is cut into cycles of `every` (cycle `n` starts at `n * every` since the epoch). Every
daemon of the fleet loops over all the workspaces, each poll: a workspace not yet done in the
current cycle is tried with its apply lease (`apply:<workspace>`, the lease every writer takes)
without waiting; the daemon that gets it checks the workspace's cycle mark again under the
lease, runs the job, and writes the mark in a transaction fenced by the lease. So:

- a workspace runs on one daemon at a time (the lease) and once per cycle (the mark, read and
  written under the lease);
- a daemon that dies mid-run leaves no mark: its lease expires within the TTL (at once when
  it ran on the same host: its process is gone) and the next poll of another daemon runs it,
  still in the same cycle;
- a daemon paused past the TTL cannot write its mark after another took over (fencing).

A job that raises is logged and marked done for the cycle, as the single daemon counts a
failed run: the next cycle tries again, rather than every daemon retrying it every poll.
The mark is a row of `cursors` (connector `daemon`, stream `cycle:<trigger>`), so the fleet
needs no table of its own. See docs/ARCHITECTURE.md, "Many workspaces".
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import Connection, Engine, select

from syncd.daemon.scheduler import SCHEDULE
from syncd.errors import classify
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store.lease import (
    APPLY_LEASE_TTL,
    Clock,
    HeldLease,
    LeaseBusyError,
    LeaseLostError,
    apply_lease_name,
    fenced,
    hold,
    make_holder_id,
)
from syncd.store.models import Cursor
from syncd.store.types import table_of, utcnow

FleetJob = Callable[[str, str, threading.Event, HeldLease], object]
"""One cycle of one workspace: `job(workspace, trigger, stop, lease)`; its result is ignored."""

log = get_logger(__name__)

_MARK_CONNECTOR = "daemon"


class Fleet:
    """One daemon's share of a fleet: runs each workspace's cycle unless another daemon has.

    Args:
        db: The shared store (PostgreSQL; SQLite works for one host).
        workspaces: Every workspace the fleet serves; each daemon is given the same list.
        job: One cycle of one workspace, see `FleetJob`.
        every: The cycle length (`schedule.incremental_every`).
        lease_ttl: How long a workspace's lease outlives a daemon that died holding it.
        poll: Seconds between passes over the workspaces.
        trigger: The runs' trigger, which also names the cycle mark.
        clock: Current time, injectable for tests.
    """

    def __init__(
        self,
        db: Engine,
        workspaces: Sequence[str],
        job: FleetJob,
        *,
        every: timedelta,
        lease_ttl: timedelta = APPLY_LEASE_TTL,
        poll: float = 1.0,
        trigger: str = SCHEDULE,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.job = job
        self.every = every
        self.lease_ttl = lease_ttl
        self.poll = poll
        self.trigger = trigger
        self.holder = make_holder_id()
        self.stop_event = threading.Event()
        #: The cycle whose run is under way (None between runs); read by jobs that report it.
        self.cycle: int | None = None
        self._clock = clock
        self._run_stop: threading.Event | None = None
        self._lock = threading.Lock()
        # Each daemon starts its pass at its own place, so two daemons starting together
        # spread over the workspaces instead of queueing on the first one.
        names = list(dict.fromkeys(workspaces))
        offset = zlib.crc32(self.holder.encode()) % max(1, len(names))
        self.workspaces = names[offset:] + names[:offset]

    def cycle_at(self) -> int:
        """The number of the current cycle."""
        return int(self._clock().timestamp() // self.every.total_seconds())

    def serve(self) -> None:
        """Pass over the workspaces every `poll` seconds until `request_stop`."""
        while not self.stop_event.is_set():
            self.run_pending()
            self.stop_event.wait(self.poll)

    def request_stop(self) -> None:
        """Stop after the run in flight (its job sees its stop flag) and end `serve`."""
        self.stop_event.set()
        with self._lock:
            if self._run_stop is not None:
                self._run_stop.set()

    def run_pending(self) -> list[str]:
        """One pass: run every workspace not yet done in this cycle whose lease is free.

        Returns:
            The workspaces this daemon ran in this pass.
        """
        ran = []
        for workspace in self.workspaces:
            if self.stop_event.is_set():
                break
            if self._try(workspace, self.cycle_at()):
                ran.append(workspace)
        return ran

    def _try(self, workspace: str, cycle: int) -> bool:
        if self._done(workspace) >= cycle:
            return False  # cheap: no lease taken for a workspace someone already ran
        run_stop = threading.Event()
        try:
            with hold(
                self.db,
                apply_lease_name(workspace),
                self.holder,
                self.lease_ttl,
                wait=False,
                now=self._clock,
                on_lost=run_stop.set,
            ) as held:
                if self._done(workspace) >= cycle:
                    return False  # another daemon ran it between our read and our lease
                self._run(workspace, cycle, run_stop, held)
                with fenced(self.db, held) as conn:
                    _mark(conn, workspace, self.trigger, cycle, self._clock)
                return True
        except (LeaseBusyError, LeaseLostError):
            return False

    def _run(self, workspace: str, cycle: int, run_stop: threading.Event, held: HeldLease) -> None:
        with self._lock:
            self._run_stop = run_stop
            if self.stop_event.is_set():
                run_stop.set()
        self.cycle = cycle
        try:
            self.job(workspace, self.trigger, run_stop, held)
        except LeaseLostError:
            raise
        except Exception as exc:  # one workspace's failure never stops the fleet
            log.exception(
                Event.RUN_FAILED,
                workspace=workspace,
                trigger=self.trigger,
                error_class=classify(exc).value,
            )
        finally:
            self.cycle = None
            with self._lock:
                self._run_stop = None
        held.ensure_alive()  # lost meanwhile: the new holder owns this cycle now

    def _done(self, workspace: str) -> int:
        """The last cycle marked done for `workspace`, or -1."""
        c = table_of(Cursor).c
        with self.db.connect() as conn:
            value = conn.execute(
                select(c.value).where(
                    c.workspace == workspace,
                    c.connector == _MARK_CONNECTOR,
                    c.stream == _stream(self.trigger),
                )
            ).scalar_one_or_none()
        return int(value) if value else -1


def _stream(trigger: str) -> str:
    return f"cycle:{trigger}"


def _mark(conn: Connection, workspace: str, trigger: str, cycle: int, clock: Clock) -> None:
    """Record `cycle` as done for `workspace` (inside the lease's fenced transaction)."""
    table = table_of(Cursor)
    c = table.c
    where = (c.workspace == workspace, c.connector == _MARK_CONNECTOR, c.stream == _stream(trigger))
    updated = conn.execute(
        table.update().where(*where).values(value=str(cycle), updated_at=clock())
    ).rowcount
    if not updated:
        conn.execute(
            table.insert().values(
                workspace=workspace,
                connector=_MARK_CONNECTOR,
                stream=_stream(trigger),
                value=str(cycle),
                updated_at=clock(),
            )
        )
