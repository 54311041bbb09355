"""Database leases: a named, expiring lock so two daemons never apply at the same time.

A lease is one row in `leases` (name, holder, acquired_at, expires_at). Taking it is a single
`INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` statement, which SQLite (3.35+) and
PostgreSQL both run atomically: it succeeds when the row is absent, expired, or already ours.
A holder keeps the lease alive with a heartbeat and deletes the row when done; a holder that
dies without releasing blocks others only until `expires_at`.

Expiry compares times from the daemons' own clocks, so the TTL must be far larger than the
clock skew between hosts (NTP keeps that to milliseconds; the default TTL is a minute).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from syncd.audit import get_logger
from syncd.errors import InternalError, TransientError
from syncd.store import models as _models  # registers the `leases` table on the metadata
from syncd.store.types import utcnow

Clock = Callable[[], datetime]

log = get_logger(__name__)
_LEASES: Table = SQLModel.metadata.tables[str(_models.Lease.__tablename__)]


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease and until when, as read from the database."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class LeaseBusyError(TransientError):
    """The lease is held by someone else and the caller chose not to wait (or was stopped).

    Args:
        name: The lease name.
        current: The holder seen last, if any.
        stopped: True when waiting ended because the stop flag was set.
    """

    def __init__(self, name: str, current: LeaseInfo | None, *, stopped: bool = False) -> None:
        who = f" by {current.holder} until {_iso(current.expires_at)}" if current else ""
        why = "stopped while waiting for" if stopped else "could not take"
        super().__init__(f"{why} lease {name}, held{who}" if current else f"{why} lease {name}")
        self.name = name
        self.current = current
        self.stopped = stopped


def make_holder_id() -> str:
    """A holder id that names the host and process, unique per call (`host/pid-123/9f2c1a`).

    Each run gets its own id, so two jobs in one process also exclude each other.
    """
    return f"{socket.gethostname()[:80]}/pid-{os.getpid()}/{secrets.token_hex(3)}"


def acquire(engine: Engine, name: str, holder: str, ttl: timedelta, *, now: Clock = utcnow) -> bool:
    """Take or extend the lease if it is free, expired, or already held by `holder`.

    Returns:
        True when `holder` now holds the lease until `now() + ttl`.
    """
    t = _LEASES
    at = now()
    ins = _insert(engine).values(name=name, holder=holder, acquired_at=at, expires_at=at + ttl)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.name],
        set_={
            "holder": ins.excluded.holder,
            # Re-taking our own lease keeps its original acquisition time.
            "acquired_at": case(
                (t.c.holder == ins.excluded.holder, t.c.acquired_at),
                else_=ins.excluded.acquired_at,
            ),
            "expires_at": ins.excluded.expires_at,
        },
        where=(t.c.holder == ins.excluded.holder) | (t.c.expires_at <= ins.excluded.acquired_at),
    ).returning(t.c.holder)
    with engine.begin() as conn:
        return conn.execute(stmt).first() is not None


def renew(engine: Engine, name: str, holder: str, ttl: timedelta, *, now: Clock = utcnow) -> bool:
    """Push the expiry of a lease `holder` holds to `now() + ttl`.

    Returns:
        False when the row no longer names `holder`: the lease was lost (it expired and
        someone else took it, or it was released).
    """
    stmt = (
        update(_LEASES)
        .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
        .values(expires_at=now() + ttl)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release(engine: Engine, name: str, holder: str) -> bool:
    """Delete the lease row if `holder` holds it; someone else's lease is left alone.

    Returns:
        True when a row was deleted.
    """
    stmt = delete(_LEASES).where(_LEASES.c.name == name, _LEASES.c.holder == holder)
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def current(engine: Engine, name: str) -> LeaseInfo | None:
    """The lease row as stored (possibly expired), or None when nobody holds it."""
    with engine.connect() as conn:
        row = conn.execute(select(_LEASES).where(_LEASES.c.name == name)).first()
    if row is None:
        return None
    return LeaseInfo(row.name, row.holder, row.acquired_at, row.expires_at)


class HeldLease:
    """A lease this process holds, kept alive by a heartbeat thread until `close`.

    `lost` is set if a renewal finds the row gone or taken over, or if renewals keep failing
    until the lease has expired; whoever works under the lease should then stop writing.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        holder: str,
        ttl: timedelta,
        *,
        now: Clock = utcnow,
        heartbeat: float | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.lost = threading.Event()
        self.expires_at = now() + ttl
        self._now = now
        self._interval = heartbeat if heartbeat is not None else ttl.total_seconds() / 3
        self._on_lost = on_lost
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_until_done, name=f"lease-heartbeat:{name}", daemon=True
        )

    def start(self) -> None:
        """Start the heartbeat; called by `hold` right after the lease is taken."""
        self._thread.start()

    def renew_now(self) -> bool:
        """Renew once; on a lost lease set `lost` and return False."""
        try:
            at = self._now()
            if renew(self.engine, self.name, self.holder, self.ttl, now=lambda: at):
                self.expires_at = at + self.ttl
                return True
            self._mark_lost("lease row no longer names this holder")
        except Exception as exc:  # noqa: BLE001 - a failed renewal is retried on the next beat
            log.warning("lease renewal failed", lease=self.name, error=type(exc).__name__)
            if self._now() >= self.expires_at:
                self._mark_lost("renewals failed until the lease expired")
        return False

    def close(self) -> None:
        """Stop the heartbeat and delete the row; on a database error the TTL cleans up."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            release(self.engine, self.name, self.holder)
        except Exception as exc:  # noqa: BLE001 - never mask the caller's own error; TTL frees it
            log.warning("lease release failed", lease=self.name, error=type(exc).__name__)
        else:
            log.debug("lease released", lease=self.name, holder=self.holder)

    def _beat_until_done(self) -> None:
        while not self._done.wait(self._interval):
            if not self.renew_now() and self.lost.is_set():
                return

    def _mark_lost(self, why: str) -> None:
        if self.lost.is_set():
            return
        self.lost.set()
        log.error(f"lease {self.name} lost: {why}", lease=self.name, holder=self.holder)
        if self._on_lost is not None:
            self._on_lost()


#: How long an apply lease outlives a process that died without releasing it.
APPLY_LEASE_TTL = timedelta(seconds=60)


def apply_lease_name(workspace: str) -> str:
    """The lease every writer of a workspace takes: daemons, `syncd sync`, `apply`, `undo`."""
    return f"apply:{workspace}"


@contextmanager
def hold(
    engine: Engine,
    name: str,
    holder: str,
    ttl: timedelta,
    *,
    wait: bool = True,
    stop: threading.Event | None = None,
    poll: float = 2.0,
    now: Clock = utcnow,
    heartbeat: float | None = None,
    on_wait: Callable[[LeaseInfo], None] | None = None,
    on_lost: Callable[[], None] | None = None,
) -> Iterator[HeldLease]:
    """Hold the lease for the duration of the block, renewing it every `ttl / 3`.

    While another holder has the lease, either raise at once (`wait=False`) or log who holds
    it and until when, then try again every `poll` seconds until it is free or `stop` is set.

    Args:
        engine: Database holding the `leases` table.
        name: Lease name, e.g. `apply:default`.
        holder: This holder's id (see `make_holder_id`).
        ttl: How long the lease outlives a silent holder.
        wait: Wait for the lease instead of raising.
        stop: Ends waiting early (the daemon's stop flag).
        poll: Seconds between attempts while waiting.
        now: Clock, injectable for tests.
        heartbeat: Seconds between renewals; `ttl / 3` by default.
        on_wait: Called with the current holder on each failed attempt.
        on_lost: Called once from the heartbeat thread if the lease is lost.

    Raises:
        LeaseBusyError: Held elsewhere and `wait` is False, or `stop` was set while waiting.
    """
    stop = stop if stop is not None else threading.Event()
    announced: str | None = None
    waited_from: datetime | None = None
    while not acquire(engine, name, holder, ttl, now=now):
        other = current(engine, name)
        if other is None:
            continue  # released between our two statements; try again at once
        if not wait:
            raise LeaseBusyError(name, other)
        if other.holder != announced:
            announced = other.holder
            log.info(
                f"lease {name} held by {other.holder} until {_iso(other.expires_at)}; waiting",
                lease=name,
                holder=other.holder,
                until=_iso(other.expires_at),
            )
        waited_from = waited_from or now()
        if on_wait is not None:
            on_wait(other)
        if stop.wait(poll):
            raise LeaseBusyError(name, other, stopped=True)
    waited: dict[str, Any] = {}
    if waited_from is not None:
        waited["waited_s"] = round((now() - waited_from).total_seconds(), 3)
    log.info(f"lease {name} acquired", lease=name, holder=holder, **waited)
    held = HeldLease(engine, name, holder, ttl, now=now, heartbeat=heartbeat, on_lost=on_lost)
    held.start()
    try:
        yield held
    finally:
        held.close()


def _insert(engine: Engine) -> postgresql.Insert | sqlite.Insert:
    # Both dialects offer the same on_conflict_do_update API; nothing else is supported.
    if engine.dialect.name == "postgresql":
        return postgresql.insert(_LEASES)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(_LEASES)
    raise InternalError(f"leases need SQLite or PostgreSQL, not {engine.dialect.name}")


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
