"""Database leases: a named, expiring lock so two writers never apply at the same time.

A lease is one row in `leases` (name, holder, fence, acquired_at, expires_at). Taking it is a
single `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` statement, which SQLite
(3.35+) and PostgreSQL both run atomically: it succeeds when the row is absent, expired,
released, or already ours. A holder keeps the lease alive with a heartbeat and frees the row
when done; a holder that dies without releasing blocks others only until `expires_at`, or not
at all when it ran on this host and its process is gone (PID liveness).

Fencing: every new holder gets the next `fence` number (the row is freed, never deleted, so
the number only grows). Each store write made under the lease starts with `HeldLease.check`,
an UPDATE conditioned on this holder *and* its fence number, in the same transaction as the
write. A process that was paused past the TTL (SIGSTOP, a VM suspend, an I/O stall) and wakes
up after someone else took the lease finds the condition false and commits nothing.

Expiry compares times from the writers' own clocks, so the TTL must be far larger than the
clock skew between hosts (NTP keeps that to milliseconds; the default TTL is a minute).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from syncd.errors import InternalError, SyncdError, TransientError
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store import models as _models  # registers the `leases` table on the metadata
from syncd.store.types import utcnow

Clock = Callable[[], datetime]

log = get_logger(__name__)
_LEASES: Table = SQLModel.metadata.tables[str(_models.Lease.__tablename__)]
#: A freed lease row: no holder, expired since forever (its fence number is kept).
_FREE_HOLDER = ""
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


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


class LeaseLostError(SyncdError):
    """This writer's lease was taken over (or freed) since it was acquired: stop writing.

    Raised inside the transaction of a fenced write, so that write rolls back; the run that
    meets it ends `interrupted` and leaves what it had not confirmed to the new holder.
    """

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(
            f"lease {name} is no longer held by {holder}: another writer took it over",
            hint="nothing more is written by this run; the new holder finishes the work",
        )
        self.name = name
        self.holder = holder


def make_holder_id() -> str:
    """A holder id that names the host and process, unique per call (`host/pid-123/9f2c1a`).

    Each run gets its own id, so two jobs in one process also exclude each other.
    """
    return f"{_hostname()}/pid-{os.getpid()}/{secrets.token_hex(3)}"


def _hostname() -> str:
    return socket.gethostname()[:80]


def holder_is_dead(holder: str) -> bool:
    """Whether `holder` ran on this host in a process that no longer exists.

    Only a definite answer counts: another host, this very process, an id that is not ours
    to parse, or a PID that is alive (perhaps reused) all answer False, and the caller then
    waits for the TTL as before.
    """
    host, _, rest = holder.partition("/pid-")
    pid_text = rest.partition("/")[0]
    if host != _hostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    except OSError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def acquire(
    db: Engine, name: str, holder: str, ttl: timedelta, *, now: Clock = utcnow
) -> int | None:
    """Take or extend the lease if it is free, expired, or already held by `holder`.

    Returns:
        The fence number of this holding (a new holder gets the previous number plus one;
        re-taking our own lease keeps it), or None when someone else holds the lease.
    """
    t = _LEASES
    at = now()
    ins = _insert(db).values(name=name, holder=holder, fence=1, acquired_at=at, expires_at=at + ttl)
    ours = t.c.holder == ins.excluded.holder
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.name],
        set_={
            "holder": ins.excluded.holder,
            "fence": case((ours, t.c.fence), else_=t.c.fence + 1),
            # Re-taking our own lease keeps its original acquisition time.
            "acquired_at": case((ours, t.c.acquired_at), else_=ins.excluded.acquired_at),
            "expires_at": ins.excluded.expires_at,
        },
        where=ours | (t.c.expires_at <= ins.excluded.acquired_at) | (t.c.holder == _FREE_HOLDER),
    ).returning(t.c.fence)
    with db.begin() as conn:
        fence = conn.execute(stmt).scalar_one_or_none()
    return None if fence is None else int(fence)


def take_over(
    db: Engine, name: str, holder: str, ttl: timedelta, dead: str, *, now: Clock = utcnow
) -> int | None:
    """Take the lease from `dead` (a holder whose process is gone) before its TTL runs out.

    Conditioned on the row still naming `dead`, so two contenders cannot both win.

    Returns:
        The new fence number, or None when the row no longer names `dead`.
    """
    at = now()
    stmt = (
        update(_LEASES)
        .where(_LEASES.c.name == name, _LEASES.c.holder == dead)
        .values(holder=holder, fence=_LEASES.c.fence + 1, acquired_at=at, expires_at=at + ttl)
        .returning(_LEASES.c.fence)
    )
    with db.begin() as conn:
        fence = conn.execute(stmt).scalar_one_or_none()
    return None if fence is None else int(fence)


def renew(
    db: Engine,
    name: str,
    holder: str,
    ttl: timedelta,
    *,
    now: Clock = utcnow,
    fence: int | None = None,
) -> bool:
    """Push the expiry of a lease `holder` holds to `now() + ttl`.

    Args:
        db: Database holding the `leases` table.
        name: Lease name.
        holder: The holder that renews.
        ttl: How long from now the lease lasts.
        now: Clock.
        fence: When given, renew only that holding (not a later one of the same holder id).

    Returns:
        False when the row no longer names `holder`: the lease was lost (it expired and
        someone else took it, or it was released).
    """
    where = [_LEASES.c.name == name, _LEASES.c.holder == holder]
    if fence is not None:
        where.append(_LEASES.c.fence == fence)
    stmt = update(_LEASES).where(*where).values(expires_at=now() + ttl)
    with db.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def release(db: Engine, name: str, holder: str) -> bool:
    """Free the lease if `holder` holds it; someone else's lease is left alone.

    The row stays (holder emptied, expired) so that the next holder's fence number is larger
    than every earlier one.

    Returns:
        True when this holder's lease was freed.
    """
    stmt = (
        update(_LEASES)
        .where(_LEASES.c.name == name, _LEASES.c.holder == holder)
        .values(holder=_FREE_HOLDER, expires_at=_LONG_AGO)
    )
    with db.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def current(db: Engine, name: str) -> LeaseInfo | None:
    """The lease row as stored (possibly expired), or None when nobody holds it."""
    with db.connect() as conn:
        row = conn.execute(select(_LEASES).where(_LEASES.c.name == name)).first()
    if row is None or row.holder == _FREE_HOLDER:
        return None
    return LeaseInfo(row.name, row.holder, row.acquired_at, row.expires_at)


class HeldLease:
    """A lease this process holds, kept alive by a heartbeat thread until `close`.

    `lost` is set if a renewal finds the row gone or taken over, or if renewals keep failing
    until the lease has expired; whoever works under the lease should then stop writing.
    Writers prove they still hold it with `check` inside each write transaction (fencing),
    and ask `alive` before each remote call.
    """

    def __init__(
        self,
        db: Engine,
        name: str,
        holder: str,
        ttl: timedelta,
        *,
        fence: int = 0,
        now: Clock = utcnow,
        heartbeat: float | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.fence = fence
        self.ttl = ttl
        self.lost = threading.Event()
        self.expires_at = now() + ttl
        self._now = now
        self._interval = heartbeat if heartbeat is not None else ttl.total_seconds() / 3
        self._on_lost: list[Callable[[], None]] = [on_lost] if on_lost is not None else []
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_until_done, name=f"lease-heartbeat:{name}", daemon=True
        )

    def start(self) -> None:
        """Start the heartbeat; called by `hold` right after the lease is taken."""
        self._thread.start()

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Also call `callback` when the lease is lost (at once if it already is)."""
        self._on_lost.append(callback)
        if self.lost.is_set():
            callback()

    def check(self, conn: Connection) -> None:
        """Fence one write transaction: prove this holding is still current, and extend it.

        Call it first in the transaction (so the lease row is locked before anything else and
        two threads never wait on each other in opposite orders). On PostgreSQL the UPDATE
        locks the row until commit, so a contender cannot take over mid-transaction; on SQLite
        the transaction already holds the database's write lock.

        Raises:
            LeaseLostError: Someone else holds the lease now, or it was freed; the transaction
                must roll back.
        """
        at = self._now()
        stmt = (
            update(_LEASES)
            .where(
                _LEASES.c.name == self.name,
                _LEASES.c.holder == self.holder,
                _LEASES.c.fence == self.fence,
            )
            .values(expires_at=at + self.ttl)
        )
        if conn.execute(stmt).rowcount != 1:
            self._mark_lost("a fenced write found the lease taken over")
            raise LeaseLostError(self.name, self.holder)
        self.expires_at = at + self.ttl

    def ensure_alive(self) -> None:
        """Raise unless it is safe to make a remote call now (see `alive`).

        Raises:
            LeaseLostError: The lease is lost, or expired and taken over.
        """
        if not self.alive():
            raise LeaseLostError(self.name, self.holder)

    def alive(self) -> bool:
        """Whether it is safe to make a remote call now: not lost, and not past its expiry.

        Past the expiry (the process was paused, or renewals stalled) the lease is renewed
        once in the database before answering, so a slow but uncontested writer goes on.
        """
        if self.lost.is_set():
            return False
        if self._now() < self.expires_at:
            return True
        return self.renew_now()

    def renew_now(self) -> bool:
        """Renew once; on a lost lease set `lost` and return False."""
        try:
            at = self._now()
            renewed = renew(
                self.db, self.name, self.holder, self.ttl, now=lambda: at, fence=self.fence
            )
            if renewed:
                self.expires_at = at + self.ttl
                return True
            self._mark_lost("lease row no longer names this holder")
        except Exception as exc:  # noqa: BLE001 - a failed renewal is retried on the next beat
            log.warning(Event.LEASE_RENEWAL_FAILED, lease=self.name, error=type(exc).__name__)
            if self._now() >= self.expires_at:
                self._mark_lost("renewals failed until the lease expired")
        return False

    def close(self) -> None:
        """Stop the heartbeat and free the row; on a database error the TTL cleans up."""
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            release(self.db, self.name, self.holder)
        except Exception as exc:  # noqa: BLE001 - never mask the caller's own error; TTL frees it
            log.warning(Event.LEASE_RELEASE_FAILED, lease=self.name, error=type(exc).__name__)
        else:
            log.debug(Event.LEASE_RELEASED, lease=self.name, holder=self.holder)

    def _beat_until_done(self) -> None:
        while not self._done.wait(self._interval):
            if not self.renew_now() and self.lost.is_set():
                return

    def _mark_lost(self, why: str) -> None:
        if self.lost.is_set():
            return
        self.lost.set()
        log.error(Event.LEASE_LOST, lease=self.name, holder=self.holder, reason=why)
        for callback in list(self._on_lost):
            callback()


class Fence(Protocol):
    """What a store write needs of the lease it is made under (`HeldLease`, or `UNFENCED`)."""

    def check(self, conn: Connection) -> None:
        """Prove, inside the write's transaction, that the holding is still current."""
        ...

    def ensure_alive(self) -> None:
        """Raise `LeaseLostError` unless a remote call may be made now."""
        ...


class Unfenced:
    """The fence of code that writes without a lease: unit tests of one step."""

    def check(self, conn: Connection) -> None:
        """Nothing to prove."""

    def ensure_alive(self) -> None:
        """Always alive."""


#: Writes made outside any lease (unit tests of one step; never the engine's own runs).
UNFENCED = Unfenced()


@contextmanager
def fenced(db: Engine, fence: Fence) -> Iterator[Connection]:
    """A write transaction that commits only while `fence` is still the current holding."""
    with db.begin() as conn:
        fence.check(conn)
        yield conn


#: How long an apply lease outlives a process that died without releasing it.
APPLY_LEASE_TTL = timedelta(seconds=60)


def apply_lease_name(workspace: str) -> str:
    """The lease every writer of a workspace takes: daemons, `syncd sync`, `apply`, `undo`."""
    return f"apply:{workspace}"


@contextmanager
def hold(
    db: Engine,
    name: str,
    holder: str,
    ttl: timedelta,
    *,
    wait: bool = True,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    poll: float = 2.0,
    now: Clock = utcnow,
    heartbeat: float | None = None,
    on_wait: Callable[[LeaseInfo], None] | None = None,
    on_lost: Callable[[], None] | None = None,
) -> Iterator[HeldLease]:
    """Hold the lease for the duration of the block, renewing it every `ttl / 3`.

    While another holder has the lease, either raise at once (`wait=False`) or log who holds
    it and until when, then try again every `poll` seconds until it is free, `timeout`
    seconds have passed, or `stop` is set. A holder on this host whose process is gone is
    taken over at once.

    Args:
        db: Database holding the `leases` table.
        name: Lease name, e.g. `apply:default`.
        holder: This holder's id (see `make_holder_id`).
        ttl: How long the lease outlives a silent holder.
        wait: Wait for the lease instead of raising.
        timeout: Give up waiting after this many seconds (None: no limit).
        stop: Ends waiting early (the daemon's stop flag).
        poll: Seconds between attempts while waiting.
        now: Clock, injectable for tests.
        heartbeat: Seconds between renewals; `ttl / 3` by default.
        on_wait: Called with the current holder on each failed attempt.
        on_lost: Called once from the heartbeat thread if the lease is lost.

    Raises:
        LeaseBusyError: Held elsewhere and `wait` is False, `timeout` ran out, or `stop` was
            set while waiting.
    """
    stop = stop if stop is not None else threading.Event()
    announced: str | None = None
    waited_from: datetime | None = None
    deadline = time.monotonic() + timeout if timeout is not None else None
    while (fence := _try_acquire(db, name, holder, ttl, now)) is None:
        other = current(db, name)
        if other is None:
            continue  # released between our two statements; try again at once
        if holder_is_dead(other.holder):
            fence = take_over(db, name, holder, ttl, other.holder, now=now)
            if fence is not None:
                log.warning(
                    Event.LEASE_TAKEN_OVER, lease=name, previous=other.holder, reason="process gone"
                )
                break
            continue
        left = None if deadline is None else deadline - time.monotonic()
        if not wait or (left is not None and left <= 0):
            raise LeaseBusyError(name, other)
        if other.holder != announced:
            announced = other.holder
            log.info(
                Event.LEASE_WAITING,
                lease=name,
                holder=other.holder,
                until=_iso(other.expires_at),
            )
        waited_from = waited_from or now()
        if on_wait is not None:
            on_wait(other)
        if stop.wait(poll if left is None else min(poll, left)):
            raise LeaseBusyError(name, other, stopped=True)
    waited: dict[str, Any] = {}
    if waited_from is not None:
        waited["waited_s"] = round((now() - waited_from).total_seconds(), 3)
    log.info(Event.LEASE_ACQUIRED, lease=name, holder=holder, fence=fence, **waited)
    held = HeldLease(
        db, name, holder, ttl, fence=fence, now=now, heartbeat=heartbeat, on_lost=on_lost
    )
    held.start()
    try:
        yield held
    finally:
        held.close()


def _try_acquire(db: Engine, name: str, holder: str, ttl: timedelta, now: Clock) -> int | None:
    """`acquire`, with a database that stayed locked past its busy timeout read as "busy".

    SQLite has one write lock per database: a writer paused inside a transaction keeps it
    until it resumes, and nobody can take its lease meanwhile (nor need to: it cannot write
    anything nobody else can see). Waiting on is the only safe answer.
    """
    try:
        return acquire(db, name, holder, ttl, now=now)
    except OperationalError as exc:
        if "locked" not in str(exc.orig).lower():
            raise
        log.info(Event.LEASE_DATABASE_BUSY, lease=name)
        return None


def _insert(db: Engine) -> postgresql.Insert | sqlite.Insert:
    # Both dialects offer the same on_conflict_do_update API; nothing else is supported.
    if db.dialect.name == "postgresql":
        return postgresql.insert(_LEASES)
    if db.dialect.name == "sqlite":
        return sqlite.insert(_LEASES)
    raise InternalError(f"leases need SQLite or PostgreSQL, not {db.dialect.name}")


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
