"""Crash recovery on both databases: a run left `running` is closed with its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from syncd.engine.ledger import mark, pending_page, write_outbox
from syncd.engine.plan import Action, Change
from syncd.engine.recovery import recover_interrupted
from syncd.store import AuditEvent, OutboxEntry, OutboxState, RunStatus, SyncRun
from syncd.store.lease import UNFENCED
from syncd.store.types import table_of
from tests.unit.engine.test_apply import outbox_states, seed

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _applied_event(run_id: int, contact_id: int, target: str, at: datetime) -> dict[str, object]:
    return {
        "workspace": "default",
        "run_id": run_id,
        "at": at,
        "contact_id": contact_id,
        "email": f"p{contact_id}@example.com",
        "segment": "vip",
        "target": target,
        "action": "add",
        "reason": "rule segments/vip matched",
        "outcome": "applied",
    }


def _run(db: Engine, run_id: int) -> dict[str, object]:
    r = table_of(SyncRun)
    with db.connect() as conn:
        return dict(conn.execute(select(r).where(r.c.id == run_id)).mappings().one())


def test_a_killed_run_is_closed_as_interrupted_with_its_figures(db: Engine) -> None:
    run_id = seed(db, 5)  # five pending adds on mailchimp_tag:vip
    r = table_of(SyncRun)
    started = NOW - timedelta(minutes=5)
    last = NOW - timedelta(minutes=4)
    with db.begin() as conn:
        conn.execute(
            r.update().where(r.c.id == run_id).values(holder="host/pid-9/abc", started_at=started)
        )
        rows = pending_page(
            conn, "default", run_id, [OutboxState.PENDING], target="mailchimp_tag:vip",
            after_id=0, limit=100,
        )  # fmt: skip
        mark(conn, [rows[0].id, rows[1].id], OutboxState.DONE, now=NOW)  # confirmed before the kill
        mark(conn, [rows[2].id], OutboxState.IN_FLIGHT, now=NOW)  # sent, answer never recorded
        conn.execute(
            table_of(AuditEvent).insert(),
            [_applied_event(run_id, rows[i].contact_id, "mailchimp_tag:vip", last) for i in (0, 1)],
        )
    assert recover_interrupted(db, "default", UNFENCED, NOW) == [run_id]
    run = _run(db, run_id)
    assert run["status"] == RunStatus.INTERRUPTED
    assert run["finished_at"] == last
    assert "host/pid-9/abc" in str(run["error_message"])
    assert run["reason_code"] == "interrupted"
    counts = run["counts"]
    assert isinstance(counts, dict)
    assert counts["targets"] == {"mailchimp_tag:vip": {"added": 2, "planned_add": 5}}
    assert counts["interrupted"] == {"in_flight": 1, "pending": 2}
    # Nothing of the dead run is left to send: the next plan re-plans what it had not confirmed.
    assert outbox_states(db) == {"done": 2, "cancelled": 3}
    o = table_of(OutboxEntry).c
    with db.connect() as conn:
        cancelled = conn.execute(
            select(o.last_error, o.reason_code).where(o.state == "cancelled")
        ).all()
    assert any("in flight" in (e or "") for e, _ in cancelled)
    assert {code for _, code in cancelled} == {"interrupted"}


def test_only_running_runs_of_the_workspace_are_touched(db: Engine) -> None:
    held = seed(db, 1)
    r = table_of(SyncRun)
    with db.begin() as conn:
        conn.execute(r.update().where(r.c.id == held).values(status=RunStatus.HELD))
        other = conn.execute(
            r.insert()
            .values(workspace="elsewhere", trigger="manual", status=RunStatus.RUNNING, counts={})
            .returning(r.c.id)
        ).scalar_one()
        write_outbox(
            conn, "default", held, [Change("mailchimp_tag:vip", 1, Action.ADD, "r")], now=NOW
        )
    assert recover_interrupted(db, "default", UNFENCED, NOW) == []
    assert _run(db, held)["status"] == RunStatus.HELD
    assert _run(db, other)["status"] == RunStatus.RUNNING
    assert outbox_states(db) == {"pending": 2}  # a held plan waits for its decision
