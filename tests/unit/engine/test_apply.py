"""Apply on both databases with an in-process writer: outcomes, ledger, audit, resume."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlalchemy import select as core_select
from sqlmodel import col, select

from syncd.engine import apply as apply_module
from syncd.engine.apply import ItemOutcome, apply_run
from syncd.engine.ledger import OutboxItem, load_ledger, write_outbox
from syncd.engine.plan import Action, Change
from syncd.errors import ConfigError, TransientError, error_for
from syncd.failures import ErrorClass, Reason
from syncd.store import (
    AuditEvent,
    Contact,
    OutboxEntry,
    RemoteTarget,
    SyncRun,
    lease,
    session_scope,
)
from syncd.store.types import table_of, utcnow
from syncd.targets import TargetKind, TargetRef


class FakeWriter:
    """Records batches; outcomes chosen per contact id by the test."""

    def __init__(self, api: str, size: int = 2) -> None:
        self.api = api
        self.size = size
        self.batches: list[list[int]] = []
        self.ensured: list[tuple[str, str | None]] = []
        self.reject: set[int] = set()
        self.retry: set[int] = set()
        self.silent: set[int] = set()
        self.fail_with: Exception | None = None
        self.after_batch: threading.Event | None = None

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        self.ensured.append((ref.key, known_remote_id))
        return known_remote_id or f"remote-{ref.name}"

    def batch_size(self, ref: TargetRef) -> int:
        return self.size

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append([i.contact_id for i in items])
        out = {}
        for item in items:
            if item.contact_id in self.reject:
                out[item.id] = ItemOutcome(
                    "rejected",
                    ErrorClass.REJECTED,
                    "Member In Compliance",
                    Reason.MEMBER_COMPLIANCE,
                )
            elif item.contact_id in self.retry:
                out[item.id] = ItemOutcome(
                    "retry", ErrorClass.TRANSIENT, "503", Reason.VENDOR_UNAVAILABLE
                )
            elif item.contact_id in self.silent:
                continue  # the vendor's answer did not mention it
            else:
                out[item.id] = ItemOutcome("applied")
        if self.after_batch is not None:
            self.after_batch.set()
        return out


def seed(db: Engine, n: int, target: str = "mailchimp_tag:vip") -> int:
    with session_scope(db) as session:
        run = SyncRun(trigger="manual")
        session.add(run)
        for i in range(n):
            session.add(Contact(email=f"p{i}@example.com", hubspot_id=str(i), mailchimp_id=f"h{i}"))
        session.flush()
        assert run.id is not None
        run_id = run.id
    queue_adds(db, run_id, target, "rule segments/vip matched", contact_ids(db))
    return run_id


def contact_ids(db: Engine) -> list[int]:
    """Every contact's id, in order."""
    with db.connect() as conn:
        return [r[0] for r in conn.execute(core_select(Contact.id).order_by(col(Contact.id)))]


def queue_adds(db: Engine, run_id: int, target: str, reason: str, ids: list[int]) -> None:
    """Queue in `run_id`'s outbox an add to `target` for each of the contacts `ids`."""
    with db.begin() as conn:
        write_outbox(
            conn,
            "default",
            run_id,
            [Change(target, cid, Action.ADD, reason) for cid in ids],
            now=utcnow(),
        )


def new_run(db: Engine) -> int:
    with session_scope(db) as session:
        run = SyncRun(trigger="manual")
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def outbox_states(db: Engine) -> dict[str, int]:
    with db.begin() as conn:
        rows = conn.execute(
            core_select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)
        )
        return {state: count for state, count in rows}


def outbox_reasons(db: Engine) -> dict[str, str | None]:
    """State -> the one reason code its rows carry."""
    o = table_of(OutboxEntry).c
    with db.begin() as conn:
        rows = conn.execute(core_select(o.state, o.reason_code).distinct()).all()
    assert len({state for state, _ in rows}) == len(rows), rows
    return dict(rows)


def audit_reasons(db: Engine) -> dict[str | None, int]:
    """Reason code -> audit rows carrying it."""
    a = table_of(AuditEvent).c
    with db.begin() as conn:
        rows = conn.execute(core_select(a.reason_code, func.count()).group_by(a.reason_code))
        return dict(rows.all())


def test_apply_records_ledger_and_audit_per_member(db: Engine) -> None:
    run_id = seed(db, 5)
    writer = FakeWriter("mailchimp")
    writer.reject = {2}
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert writer.batches == [[1, 2], [3, 4], [5]]
    assert report.counts["mailchimp_tag:vip"] == {"added": 4, "rejected": 1}
    with db.begin() as conn:
        ledger = load_ledger(conn, "default")
    assert sorted(ledger["mailchimp_tag:vip"]) == [1, 3, 4, 5]
    assert outbox_states(db) == {"done": 4, "rejected": 1}
    with session_scope(db) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        remote = session.exec(select(RemoteTarget)).one()
    assert len(events) == 5
    bad = next(e for e in events if e.contact_id == 2)
    assert (bad.outcome, bad.error_class, bad.message, bad.reason_code) == (
        "rejected",
        "rejected",
        "Member In Compliance",
        "member_compliance",
    )
    assert {e.reason_code for e in events if e.contact_id != 2} == {None}
    assert bad.segment == "vip" and bad.email == "p1@example.com"
    assert remote.remote_id == "remote-vip"
    # A second pass finds nothing left to send.
    again = FakeWriter("mailchimp")
    apply_run(db, "default", run_id, {"mailchimp": again}, clock=utcnow)
    assert again.batches == []
    assert again.ensured == []


def test_retryable_rows_stay_pending_then_give_up(db: Engine) -> None:
    run_id = seed(db, 2)
    writer = FakeWriter("mailchimp")
    writer.retry = {1}
    apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow, max_attempts=2)
    assert outbox_states(db) == {"done": 1, "pending": 1}
    assert outbox_reasons(db) == {"done": None, "pending": "vendor_unavailable"}
    apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow, max_attempts=2)
    assert outbox_states(db) == {"done": 1, "rejected": 1}
    with session_scope(db) as session:
        last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert last is not None and last.message == "gave up after 2 attempts: 503"
    assert last.reason_code == "vendor_unavailable"  # giving up keeps the cause's code
    assert outbox_reasons(db) == {"done": None, "rejected": "vendor_unavailable"}


def test_transient_batch_failure_leaves_rows_for_retry(db: Engine) -> None:
    run_id = seed(db, 3)
    writer = FakeWriter("mailchimp")
    writer.fail_with = TransientError("HTTP 503 after 5 attempts")
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert report.counts["mailchimp_tag:vip"] == {"retry": 3}
    assert outbox_states(db) == {"pending": 3}
    assert audit_reasons(db) == {"temporary_failure": 3}


def test_a_row_the_answer_does_not_mention_is_retried_as_no_outcome(db: Engine) -> None:
    run_id = seed(db, 2)
    writer = FakeWriter("mailchimp")
    writer.silent = {2}
    apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert outbox_states(db) == {"done": 1, "pending": 1}
    assert audit_reasons(db) == {None: 1, "no_outcome": 1}


def test_config_error_stops_and_keeps_rows_pending(db: Engine) -> None:
    run_id = seed(db, 3)
    writer = FakeWriter("mailchimp")
    writer.fail_with = ConfigError("HubSpot said 401")
    # The failure is reported for its API (the others would go on), not raised mid-apply.
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert isinstance(report.failures["mailchimp"], ConfigError)
    assert outbox_states(db) == {"pending": 3}


def test_stop_finishes_the_batch_in_flight_and_resumes(db: Engine) -> None:
    run_id = seed(db, 5)
    stop = threading.Event()
    writer = FakeWriter("mailchimp")
    writer.after_batch = stop  # stop is requested while the first batch is in flight
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow, stop=stop)
    assert report.stopped
    assert writer.batches == [[1, 2]]
    assert outbox_states(db) == {"done": 2, "pending": 3}
    resumed = FakeWriter("mailchimp")
    apply_run(db, "default", run_id, {"mailchimp": resumed}, clock=utcnow)
    assert resumed.batches == [[3, 4], [5]]
    assert resumed.ensured == [("mailchimp_tag:vip", "remote-vip")]


def test_in_flight_rows_after_a_crash_are_sent_again_once(db: Engine) -> None:
    run_id = seed(db, 3)
    with db.begin() as conn:
        conn.execute(
            table_of(OutboxEntry)
            .update()
            .where(table_of(OutboxEntry).c.contact_id == 1)
            .values(state="in_flight")
        )
    writer = FakeWriter("mailchimp", size=10)
    apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert writer.batches == [[1, 2, 3]]
    assert outbox_states(db) == {"done": 3}


def test_newer_plan_supersedes_pending_rows(db: Engine) -> None:
    first = seed(db, 2)
    second = new_run(db)
    with db.begin() as conn:
        write_outbox(
            conn, "default", second, [Change("mailchimp_tag:vip", 1, Action.ADD, "r")], now=utcnow()
        )
    assert outbox_states(db) == {"cancelled": 2, "pending": 1}
    assert outbox_reasons(db) == {"cancelled": "superseded", "pending": None}
    writer = FakeWriter("mailchimp")
    apply_run(db, "default", first, {"mailchimp": writer}, clock=utcnow)
    assert writer.batches == []


def test_targets_route_to_their_api() -> None:
    assert TargetRef(TargetKind.HUBSPOT_LIST, "x").api == "hubspot"
    assert TargetRef.parse("mailchimp_tag:a:b") == TargetRef(TargetKind.MAILCHIMP_TAG, "a:b")


class RecreatingWriter(FakeWriter):
    """A writer whose known target was deleted remotely: ensure makes a new one."""

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        self.ensured.append((ref.key, known_remote_id))
        return "remote-recreated"


def test_a_recreated_target_resets_what_the_ledger_says_was_added(db: Engine) -> None:
    run_id = seed(db, 2)
    apply_run(db, "default", run_id, {"mailchimp": FakeWriter("mailchimp")}, clock=utcnow)
    second = new_run(db)
    with db.begin() as conn:
        write_outbox(
            conn, "default", second, [Change("mailchimp_tag:vip", 1, Action.ADD, "r")], now=utcnow()
        )
    apply_run(db, "default", second, {"mailchimp": RecreatingWriter("mailchimp")}, clock=utcnow)
    with db.begin() as conn:
        ledger = load_ledger(conn, "default")["mailchimp_tag:vip"]
    assert ledger[1].state == "added"
    assert ledger[2].state == "removed"  # the next plan adds it to the new tag again
    with session_scope(db) as session:
        assert session.exec(select(RemoteTarget)).one().remote_id == "remote-recreated"
        closed = session.exec(select(AuditEvent).where(AuditEvent.outcome == "closed")).all()
    # The membership that vanished with the tag is recorded as such, with its reason.
    assert sorted((e.contact_id, e.run_id, e.reason_code) for e in closed) == [
        (1, second, "target_deleted"),
        (2, second, "target_deleted"),
    ]


class Clock:
    """A settable clock for the lease; expiry comes from moving it, never from sleeping."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


class TakenOverWriter(FakeWriter):
    """While its first batch is in flight, the process 'pauses' past the TTL and another
    writer takes the lease over.
    """

    def __init__(self, db: Engine, clock: Clock) -> None:
        super().__init__("mailchimp")
        self.db, self.clock = db, clock

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        out = super().write(ref, remote_id, items)
        self.clock.at += timedelta(seconds=61)
        assert lease.acquire(self.db, "apply:default", "thief", TTL, now=self.clock)
        return out


TTL = timedelta(seconds=60)


def test_a_writer_that_lost_its_lease_stops_and_commits_nothing(db: Engine) -> None:
    run_id = seed(db, 5)
    clock = Clock()
    fence = lease.acquire(db, "apply:default", "me", TTL, now=clock)
    assert fence is not None
    held = lease.HeldLease(db, "apply:default", "me", TTL, fence=fence, now=clock)
    writer = TakenOverWriter(db, clock)
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow, fence=held)
    assert report.lost and not report.failures
    assert writer.batches == [[1, 2]]  # nothing sent after the takeover
    # The batch in flight stays in flight (the new holder's plan resends it); nothing was
    # confirmed, counted or audited by the overtaken writer.
    assert outbox_states(db) == {"in_flight": 2, "pending": 3}
    assert report.counts == {}
    with db.begin() as conn:
        assert load_ledger(conn, "default") == {}
        assert conn.execute(core_select(func.count()).select_from(AuditEvent)).scalar() == 0


def test_one_api_failing_keeps_what_the_other_applied(db: Engine) -> None:
    run_id = seed(db, 3)
    with db.begin() as conn:
        write_outbox(
            conn, "default", run_id, [Change("hubspot_list:vip", 1, Action.ADD, "r")], now=utcnow()
        )
    refused = FakeWriter("hubspot")
    refused.fail_with = ConfigError("hubspot: HTTP 401: token revoked")
    writers = {"mailchimp": FakeWriter("mailchimp"), "hubspot": refused}
    report = apply_run(db, "default", run_id, writers, clock=utcnow)
    assert report.apis == ["hubspot", "mailchimp"]
    assert isinstance(report.failures["hubspot"], ConfigError)
    assert report.counts["mailchimp_tag:vip"] == {"added": 3}
    assert outbox_states(db) == {"done": 3, "pending": 1}


class SameIdWriter(FakeWriter):
    """Answers every ensure with one remote id, as a vendor would for a name clash."""

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        self.ensured.append((ref.key, known_remote_id))
        return known_remote_id or "one-remote-list"


def test_a_remote_id_kept_for_another_target_is_never_adopted(db: Engine) -> None:
    first = seed(db, 1, target="mailchimp_tag:vip")
    apply_run(db, "default", first, {"mailchimp": SameIdWriter("mailchimp")}, clock=utcnow)
    second = new_run(db)
    with db.begin() as conn:
        write_outbox(
            conn,
            "default",
            second,
            [Change("mailchimp_tag:gold", 1, Action.ADD, "r")],
            now=utcnow(),
        )
    report = apply_run(
        db, "default", second, {"mailchimp": SameIdWriter("mailchimp")}, clock=utcnow
    )
    refused = report.failures["mailchimp"]
    assert isinstance(refused, ConfigError) and "mailchimp_tag:vip" in str(refused)
    assert refused.reason is Reason.TARGET_SHARED
    with db.begin() as conn:
        rt = table_of(RemoteTarget).c
        kept = dict(conn.execute(core_select(rt.target, rt.remote_id)).all())
    assert kept == {"mailchimp_tag:vip": "one-remote-list"}


class WindowWriter(FakeWriter):
    """A writer with several batches in flight: its first `meet` calls wait for each other."""

    def __init__(self, in_flight: int, meet: int, crash_from: int | None = None) -> None:
        super().__init__("mailchimp", size=1)
        self.in_flight = in_flight
        self.barrier = threading.Barrier(meet, timeout=10)
        self.meet = meet
        self.calls = 0
        self.lock = threading.Lock()
        self.crash_from = crash_from

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        with self.lock:
            self.calls += 1
            call = self.calls
        if call <= self.meet:
            self.barrier.wait()  # breaks (and fails the test) unless `meet` calls overlap
        if self.crash_from is not None and call >= self.crash_from:
            raise RuntimeError("the process died here")
        return super().write(ref, remote_id, items)


def test_several_batches_are_in_flight_at_once_and_recorded_together(db: Engine) -> None:
    run_id = seed(db, 7)
    writer = WindowWriter(in_flight=3, meet=3)
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    assert sorted(writer.batches) == [[i] for i in range(1, 8)]
    assert report.batches == 7 and report.counts["mailchimp_tag:vip"]["added"] == 7
    assert outbox_states(db) == {"done": 7}
    with db.begin() as conn:
        assert set(load_ledger(conn, "default")["mailchimp_tag:vip"]) == set(range(1, 8))


def test_a_crash_leaves_at_most_the_window_in_flight_and_it_alone_is_resent(db: Engine) -> None:
    run_id = seed(db, 7)
    crashing = WindowWriter(in_flight=3, meet=3, crash_from=4)  # the second window dies
    report = apply_run(db, "default", run_id, {"mailchimp": crashing}, clock=utcnow)
    assert isinstance(report.failures["mailchimp"], RuntimeError)
    assert outbox_states(db) == {"done": 3, "in_flight": 3, "pending": 1}
    resumed = FakeWriter("mailchimp", size=1)
    apply_run(db, "default", run_id, {"mailchimp": resumed}, clock=utcnow)
    # What was done is not sent again; the window in flight and what never left are.
    assert sorted(resumed.batches) == [[4], [5], [6], [7]]
    assert outbox_states(db) == {"done": 7}


class KeepsDeletedWriter(FakeWriter):
    """A writer whose `vip` target a person deleted, with `on_deleted_target: stop`."""

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        if ref.name == "vip" and known_remote_id:
            raise error_for(
                Reason.TARGET_DELETED_KEPT, "tag 'syncd:vip' was deleted", api="mailchimp"
            )
        return super().ensure(ref, known_remote_id)


def test_a_target_left_deleted_is_recorded_and_the_others_are_written(db: Engine) -> None:
    run_id = seed(db, 2)
    apply_run(db, "default", run_id, {"mailchimp": FakeWriter("mailchimp")}, clock=utcnow)
    second = new_run(db)
    changes = [
        Change("mailchimp_tag:vip", 1, Action.REMOVE, "r"),
        Change("mailchimp_tag:other", 2, Action.ADD, "r"),
    ]
    with db.begin() as conn:
        write_outbox(conn, "default", second, changes, now=utcnow())
    writer = KeepsDeletedWriter("mailchimp")
    report = apply_run(db, "default", second, {"mailchimp": writer}, clock=utcnow)
    assert report.kept_deleted == ["mailchimp_tag:vip"] and not report.failures
    assert writer.batches == [[2]]  # the other tag was written
    with session_scope(db) as session:
        vip = session.exec(select(RemoteTarget).where(RemoteTarget.target == "mailchimp_tag:vip"))
        assert vip.one().deleted_at is not None
        events = session.exec(
            select(AuditEvent).where(AuditEvent.reason_code == "target_deleted_kept")
        ).all()
    assert {(e.action, e.outcome) for e in events} == {("drift", "detected"), ("remove", "closed")}
    with db.begin() as conn:
        assert all(
            e.state == "removed" for e in load_ledger(conn, "default")["mailchimp_tag:vip"].values()
        )


def test_apply_reads_each_target_a_page_at_a_time_and_sends_every_row_once(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run of millions of changes must not be loaded whole: pages of whole batches are read
    # as the sends reach them, and rows marked done or retried behind the walk stay behind it.
    monkeypatch.setattr(apply_module, "PAGE_ROWS", 5)
    run_id = seed(db, 23)
    ids = contact_ids(db)
    queue_adds(db, run_id, "mailchimp_tag:other", "r", ids[:7])
    pages: list[int] = []
    real_page = apply_module.pending_page

    def counted(*args: Any, **kwargs: Any) -> list[OutboxItem]:
        rows = real_page(*args, **kwargs)
        pages.append(len(rows))
        return rows

    monkeypatch.setattr(apply_module, "pending_page", counted)
    writer = FakeWriter("mailchimp", size=2)
    writer.retry = {3, 9}
    report = apply_run(db, "default", run_id, {"mailchimp": writer}, clock=utcnow)
    sent = [cid for batch in writer.batches for cid in batch]
    assert sorted(sent) == sorted(ids + ids[:7])  # each row once, retries not resent this pass
    assert max(pages) <= 4  # 5 rows rounded down to two whole batches of 2
    assert sum(pages) == 30
    assert outbox_states(db) == {"done": 27, "pending": 3}  # 3 is in both targets
    assert report.batches == len(writer.batches)
