"""Vacuuming the outbox after a run that updated many of its rows (`syncd.store.maintenance`)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text, update
from structlog.testing import capture_logs

from syncd.store import maintenance
from syncd.store.bulk import insert_many
from syncd.store.models import Contact, OutboxEntry, OutboxState, SyncRun
from syncd.store.types import table_of, utcnow

ROWS = 300


def journal_and_mark(db: Engine) -> None:
    """A run's journal, then apply marking every row: ROWS dead versions on PostgreSQL."""
    table = table_of(OutboxEntry)
    now = utcnow()
    columns = ("workspace", "run_id", "target", "contact_id", "action", "payload", "reason",
               "state", "attempts", "created_at", "updated_at")  # fmt: skip
    with db.begin() as conn:
        people = [{"workspace": "default", "email": f"p{i}@example.com", "attributes": {},
                   "created_at": now, "updated_at": now} for i in range(ROWS)]  # fmt: skip
        ids = conn.execute(
            table_of(Contact).insert().returning(table_of(Contact).c.id), people
        ).scalars().all()  # fmt: skip
        run_id = conn.execute(
            table_of(SyncRun).insert()
            .values(workspace="default", trigger="manual", started_at=now, counts={})
            .returning(table_of(SyncRun).c.id)
        ).scalar_one()  # fmt: skip
        rows = (("default", run_id, "hubspot_list:vip", i, "add", {"value": None}, "rule",
                 "pending", 0, now, now) for i in ids)  # fmt: skip
        insert_many(conn, table, columns, rows)
    with db.begin() as conn:
        conn.execute(update(table).values(state=OutboxState.DONE))


@pytest.mark.postgres
def test_many_updated_rows_are_vacuumed_on_postgresql(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect.name != "postgresql":
        assert not maintenance.vacuum_after(db, "outbox", 10**9)  # nothing to do elsewhere
        return
    monkeypatch.setattr(maintenance, "WORTH_VACUUMING", ROWS)
    journal_and_mark(db)
    assert not maintenance.vacuum_after(db, "outbox", ROWS - 1)  # too few to pay
    with db.connect() as conn:
        before = conn.execute(
            text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'")
        ).scalar_one()
    assert maintenance.vacuum_after(db, "outbox", ROWS)
    with db.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        after = conn.execute(
            text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'")
        ).scalar_one()
    assert after == before + 1  # reported by VACUUM itself, at once


def test_a_refused_vacuum_is_logged_and_the_run_goes_on(db: Engine) -> None:
    with capture_logs() as logs:
        assert not maintenance.vacuum_after(db, "no_such_table", 10**9)
    # SQLite is never vacuumed, so nothing is refused there.
    want = ["store.vacuum_failed"] if db.dialect.name == "postgresql" else []
    assert [e["event"] for e in logs] == want
