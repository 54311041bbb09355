"""The apply lease on SQLite and PostgreSQL: acquire, renew, expiry, release, contention."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from syncd.store import lease
from syncd.store.lease import LeaseBusyError, LeaseInfo
from tests.support.polling import eventually

NAME = "apply:default"
TTL = timedelta(seconds=60)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock; expiry is tested by moving it, never by sleeping."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_acquire_free_lease_records_holder_and_expiry(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    assert lease.current(db, NAME) == LeaseInfo(NAME, "a", T0, T0 + TTL)


def test_second_holder_is_refused_until_expiry(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    clock.advance(59)
    assert not lease.acquire(db, NAME, "b", TTL, now=clock)
    assert lease.current(db, NAME).holder == "a"  # type: ignore[union-attr]
    clock.advance(1)  # exactly at expires_at the lease is free
    assert lease.acquire(db, NAME, "b", TTL, now=clock)
    info = lease.current(db, NAME)
    assert info is not None and info.holder == "b" and info.acquired_at == clock.at


def test_reacquire_by_holder_extends_and_keeps_acquired_at(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    clock.advance(30)
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    assert lease.current(db, NAME) == LeaseInfo(NAME, "a", T0, clock.at + TTL)


def test_renew_extends_only_for_the_holder(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    clock.advance(50)
    assert lease.renew(db, NAME, "a", TTL, now=clock)
    assert not lease.renew(db, NAME, "b", TTL, now=clock)
    clock.advance(59)  # 109 s after start, still held thanks to the renewal
    assert not lease.acquire(db, NAME, "b", TTL, now=clock)
    info = lease.current(db, NAME)
    assert info is not None and info.expires_at == T0 + timedelta(seconds=110)


def test_renew_after_takeover_reports_the_lease_lost(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    clock.advance(61)
    assert lease.acquire(db, NAME, "b", TTL, now=clock)
    assert not lease.renew(db, NAME, "a", TTL, now=clock)
    assert lease.current(db, NAME).holder == "b"  # type: ignore[union-attr]


def test_release_by_holder_frees_and_others_cannot_release(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "a", TTL, now=clock)
    assert not lease.release(db, NAME, "b")
    assert lease.current(db, NAME) is not None
    assert lease.release(db, NAME, "a")
    assert lease.current(db, NAME) is None
    assert lease.acquire(db, NAME, "b", TTL, now=clock)


def test_leases_with_different_names_are_independent(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, "apply:one", "a", TTL, now=clock)
    assert lease.acquire(db, "apply:two", "b", TTL, now=clock)


def test_concurrent_contenders_exactly_one_wins(db: Engine, clock: Clock) -> None:
    holders = [f"h{i}" for i in range(8)]
    barrier = threading.Barrier(len(holders))

    def contend(holder: str) -> bool:
        barrier.wait(timeout=10)
        return lease.acquire(db, NAME, holder, TTL, now=clock)

    with ThreadPoolExecutor(len(holders)) as pool:
        won = dict(zip(holders, pool.map(contend, holders), strict=True))
    winners = [h for h, ok in won.items() if ok]
    assert len(winners) == 1
    assert lease.current(db, NAME).holder == winners[0]  # type: ignore[union-attr]


def test_holder_ids_name_host_and_pid_and_differ() -> None:
    a, b = lease.make_holder_id(), lease.make_holder_id()
    assert a != b and f"/pid-{os.getpid()}/" in a


def test_hold_without_wait_raises_with_the_current_holder(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "other", TTL, now=clock)
    with (
        pytest.raises(LeaseBusyError, match="held by other") as caught,
        lease.hold(db, NAME, "me", TTL, wait=False, now=clock),
    ):
        pytest.fail("entered a lease someone else holds")
    assert caught.value.current is not None and caught.value.current.holder == "other"


def test_hold_releases_on_exit_even_after_an_error(db: Engine, clock: Clock) -> None:
    inside: list[str | None] = []

    def failing_job() -> None:
        with lease.hold(db, NAME, "me", TTL, now=clock):
            inside.append(_holder(db))
            raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        failing_job()
    assert inside == ["me"]
    assert lease.current(db, NAME) is None


def test_hold_waits_logs_why_and_enters_when_released(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "host-1/pid-1/aa", TTL, now=clock)
    seen: list[LeaseInfo] = []
    waiting, entered = threading.Event(), threading.Event()

    def on_wait(info: LeaseInfo) -> None:
        seen.append(info)
        waiting.set()

    def contender() -> None:
        with lease.hold(db, NAME, "me", TTL, poll=0.02, now=clock, on_wait=on_wait):
            entered.set()

    with capture_logs() as logs:
        thread = threading.Thread(target=contender)
        thread.start()
        assert waiting.wait(10)
        assert not entered.is_set()
        assert lease.release(db, NAME, "host-1/pid-1/aa")
        assert entered.wait(10)
        thread.join(10)
    assert seen[0].holder == "host-1/pid-1/aa"
    assert {
        "event": "lease.waiting",
        "lease": NAME,
        "holder": "host-1/pid-1/aa",
        "until": "2026-01-01T12:01:00+00:00",
    }.items() <= next(e for e in logs if e["event"] == "lease.waiting").items()
    assert lease.current(db, NAME) is None


def test_hold_stops_waiting_when_stop_is_set(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "other", TTL, now=clock)
    stop = threading.Event()
    with (
        pytest.raises(LeaseBusyError) as caught,
        lease.hold(db, NAME, "me", TTL, stop=stop, poll=5, now=clock, on_wait=lambda _: stop.set()),
    ):
        pytest.fail("entered while stopping")
    assert caught.value.stopped
    assert lease.current(db, NAME).holder == "other"  # type: ignore[union-attr]


def test_heartbeat_keeps_the_lease_alive(db: Engine, clock: Clock) -> None:
    with lease.hold(db, NAME, "me", TTL, now=clock, heartbeat=0.01) as held:
        clock.advance(45)  # beyond the original ttl / 3: the heartbeat must push expiry on
        renewed_at = clock.at
        assert eventually(lambda: held.expires_at == renewed_at + TTL)
        clock.advance(30)  # 75 s after acquisition: without renewals this would be expired
        assert not lease.acquire(db, NAME, "other", TTL, now=clock)
        assert not held.lost.is_set()


def test_heartbeat_detects_a_lost_lease(db: Engine, clock: Clock) -> None:
    lost = threading.Event()
    with lease.hold(db, NAME, "me", TTL, now=clock, heartbeat=0.01, on_lost=lost.set) as held:
        clock.advance(61)
        assert lease.acquire(db, NAME, "thief", TTL, now=clock)
        assert lost.wait(10)
        assert held.lost.is_set()
    # Leaving the block must not delete the new holder's row.
    assert lease.current(db, NAME).holder == "thief"  # type: ignore[union-attr]


def _holder(db: Engine) -> str | None:
    info = lease.current(db, NAME)
    return info.holder if info else None


def test_fence_numbers_grow_across_takeover_and_release(db: Engine, clock: Clock) -> None:
    first = lease.acquire(db, NAME, "a", TTL, now=clock)
    assert first == 1
    assert lease.acquire(db, NAME, "a", TTL, now=clock) == first  # re-taking keeps it
    clock.advance(61)
    second = lease.acquire(db, NAME, "b", TTL, now=clock)
    assert second is not None and second > first
    assert lease.release(db, NAME, "b")
    third = lease.acquire(db, NAME, "c", TTL, now=clock)
    assert third is not None and third > second  # a freed row keeps counting


def test_a_fenced_write_of_an_overtaken_holder_commits_nothing(db: Engine, clock: Clock) -> None:
    fence = lease.acquire(db, NAME, "a", TTL, now=clock)
    assert fence is not None
    held = lease.HeldLease(db, NAME, "a", TTL, fence=fence, now=clock)
    with lease.fenced(db, held) as conn:  # still ours: the write goes through
        conn.execute(_marker_insert(), {"name": "by-a", "holder": "x"})
    clock.advance(61)  # paused past the TTL ...
    assert lease.acquire(db, NAME, "b", TTL, now=clock)  # ... and someone took over
    with pytest.raises(lease.LeaseLostError), lease.fenced(db, held) as conn:
        conn.execute(_marker_insert(), {"name": "late-a", "holder": "x"})
    assert held.lost.is_set()
    assert _names(db) == {NAME, "by-a"}  # the late write rolled back


def test_the_same_holder_id_with_an_old_fence_is_refused(db: Engine, clock: Clock) -> None:
    old = lease.acquire(db, NAME, "a", TTL, now=clock)
    assert old is not None
    assert lease.release(db, NAME, "a")
    assert lease.acquire(db, NAME, "a", TTL, now=clock)  # a later holding, same id
    stale = lease.HeldLease(db, NAME, "a", TTL, fence=old, now=clock)
    with pytest.raises(lease.LeaseLostError), lease.fenced(db, stale):
        pass


def test_alive_renews_an_uncontested_expired_lease_and_refuses_a_taken_one(
    db: Engine, clock: Clock
) -> None:
    fence = lease.acquire(db, NAME, "a", TTL, now=clock)
    assert fence is not None
    held = lease.HeldLease(db, NAME, "a", TTL, fence=fence, now=clock)
    clock.advance(90)  # expired, but nobody wanted it: going on is safe
    assert held.alive()
    assert lease.current(db, NAME).expires_at == clock.at + TTL  # type: ignore[union-attr]
    clock.advance(61)
    assert lease.acquire(db, NAME, "b", TTL, now=clock)
    assert not held.alive()
    with pytest.raises(lease.LeaseLostError):
        held.ensure_alive()


def test_a_dead_holder_on_this_host_is_taken_over_at_once(db: Engine, clock: Clock) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)  # exited and reaped: its PID names no process now
    dead = f"{socket.gethostname()[:80]}/pid-{gone.pid}/dead00"
    assert lease.acquire(db, NAME, dead, TTL, now=clock)
    with capture_logs() as logs, lease.hold(db, NAME, "me", TTL, wait=False, now=clock) as h:
        assert h.holder == "me" and h.fence == 2
    assert any(e["event"] == "lease.taken_over" and e["previous"] == dead for e in logs)


def test_a_live_or_remote_holder_is_not_taken_over(db: Engine, clock: Clock) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        here = f"{socket.gethostname()[:80]}/pid-{alive.pid}/live00"
        elsewhere = "another-host.example/pid-1/aaaaaa"
        for name, holder in ((NAME, here), ("apply:other", elsewhere)):
            assert lease.acquire(db, name, holder, TTL, now=clock)
            with (
                pytest.raises(LeaseBusyError),
                lease.hold(db, name, "me", TTL, wait=False, now=clock),
            ):
                pytest.fail("took a lease from a live holder")
    finally:
        alive.kill()
        alive.wait(timeout=30)


def test_hold_gives_up_after_its_timeout(db: Engine, clock: Clock) -> None:
    assert lease.acquire(db, NAME, "other", TTL, now=clock)
    seen: list[str] = []
    with (
        pytest.raises(LeaseBusyError) as caught,
        lease.hold(
            db, NAME, "me", TTL, timeout=0.0, poll=0.01, now=clock,
            on_wait=lambda info: seen.append(info.holder),
        ),
    ):  # fmt: skip
        pytest.fail("entered a busy lease")
    assert not caught.value.stopped and caught.value.current is not None
    assert caught.value.current.holder == "other"


def _marker_insert() -> Any:
    # Any table will do as the thing being written; leases is the one every test has.
    from sqlalchemy import text

    return text(
        "INSERT INTO leases (name, holder, fence, acquired_at, expires_at) "
        "VALUES (:name, :holder, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )


def _names(db: Engine) -> set[str]:
    from sqlalchemy import text

    with db.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM leases"))}
