"""Retention: old audit events and finished outbox rows go, in chunks; the rest stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from syncd.errors import ConfigError
from syncd.store.models import AuditEvent, Contact, OutboxEntry, OutboxState, SyncRun
from syncd.store.retention import prune
from syncd.store.types import table_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WS = "default"


def _seed(db: Engine, workspace: str = WS) -> None:
    with db.begin() as conn:
        contact_id = conn.execute(
            table_of(Contact)
            .insert()
            .values(
                workspace=workspace,
                email=f"a@{workspace}.example",
                attributes={},
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(table_of(Contact).c.id)
        ).scalar_one()
        run_id = conn.execute(
            table_of(SyncRun)
            .insert()
            .values(
                workspace=workspace, trigger="schedule", status="success", started_at=NOW, counts={}
            )
            .returning(table_of(SyncRun).c.id)
        ).scalar_one()
        events: list[dict[str, Any]] = [
            {
                "workspace": workspace,
                "run_id": run_id,
                "at": NOW - timedelta(days=days, minutes=n),
                "action": "add",
                "outcome": "applied",
            }
            for days, count in ((200, 7), (91, 5), (89, 4), (0, 2))
            for n in range(count)
        ]
        conn.execute(table_of(AuditEvent).insert(), events)
        outbox = [
            {
                "workspace": workspace,
                "run_id": run_id,
                "target": "hubspot_list:vip",
                "contact_id": contact_id,
                "action": "add",
                "payload": {},
                "state": state,
                "created_at": NOW - timedelta(days=days),
                "updated_at": NOW - timedelta(days=days),
            }
            for days in (120, 10)
            for state in OutboxState
        ]
        conn.execute(table_of(OutboxEntry).insert(), outbox)


def _audit_ages(db: Engine, workspace: str = WS) -> list[int]:
    a = table_of(AuditEvent).c
    with db.connect() as conn:
        ats = conn.execute(select(a.at).where(a.workspace == workspace)).scalars().all()
    return sorted({(NOW - at).days for at in ats})


def _outbox(db: Engine, workspace: str = WS) -> list[tuple[str, int]]:
    o = table_of(OutboxEntry).c
    with db.connect() as conn:
        rows = conn.execute(select(o.state, o.updated_at).where(o.workspace == workspace))
        return sorted((state, (NOW - at).days) for state, at in rows)


@pytest.mark.parametrize("chunk", [3, 4, 10_000])
def test_prune_deletes_old_events_and_finished_outbox_rows(db: Engine, chunk: int) -> None:
    _seed(db)
    deleted = prune(db, WS, 90, NOW, chunk=chunk)
    assert deleted == 7 + 5 + 3  # audit events + old done/cancelled/rejected outbox rows
    assert _audit_ages(db) == [0, 89]
    assert _outbox(db) == sorted(
        [("held", 120), ("in_flight", 120), ("pending", 120)] + [(str(s), 10) for s in OutboxState]
    )


def test_prune_leaves_other_workspaces_alone(db: Engine) -> None:
    _seed(db)
    _seed(db, "other")
    assert prune(db, WS, 90, NOW) == 15
    assert _audit_ages(db, "other") == [0, 89, 91, 200]
    assert len(_outbox(db, "other")) == 2 * len(OutboxState)


def test_prune_twice_deletes_nothing_more(db: Engine) -> None:
    _seed(db)
    prune(db, WS, 90, NOW)
    assert prune(db, WS, 90, NOW) == 0


def test_prune_keeps_runs(db: Engine) -> None:
    _seed(db)
    prune(db, WS, 1, NOW)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(SyncRun))).scalar() == 1
    assert _audit_ages(db) == [0]


def test_zero_days_keeps_everything(db: Engine) -> None:
    _seed(db)
    assert prune(db, WS, 0, NOW) == 0
    assert _audit_ages(db) == [0, 89, 91, 200]


def test_negative_retention_is_a_config_error(db: Engine) -> None:
    with pytest.raises(ConfigError, match="retention_days"):
        prune(db, WS, -1, NOW)


def test_prune_commits_chunk_by_chunk(db: Engine) -> None:
    _seed(db)
    commits: list[int] = []

    def count(_: object) -> None:
        commits.append(1)

    event.listen(db, "commit", count)
    try:
        assert prune(db, WS, 90, NOW, chunk=4) == 15
    finally:
        event.remove(db, "commit", count)
    # 12 events in chunks of 4 (3 full + 1 empty check), 3 outbox rows in 1 chunk.
    assert len(commits) == 5
