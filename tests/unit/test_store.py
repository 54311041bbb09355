"""The store on SQLite and PostgreSQL: migrations, constraints, JSON and UTC round trips."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from syncd.errors import DatabaseNotMigratedError
from syncd.failures import Reason
from syncd.store import (
    Contact,
    Cursor,
    Membership,
    MembershipState,
    OutboxEntry,
    SyncRun,
    head_revision,
    make_engine,
    open_store,
    session_scope,
)


def test_unmigrated_database_is_refused_with_a_clear_message(empty_db_url: str) -> None:
    with pytest.raises(DatabaseNotMigratedError) as info:
        open_store(empty_db_url)
    assert "has no syncd schema" in str(info.value)
    assert "syncd db upgrade" in str(info.value)
    assert info.value.reason is Reason.NOT_MIGRATED


def test_migrated_database_is_accepted_and_matches_models(db_url: str) -> None:
    db = open_store(db_url)
    try:
        with db.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert ctx.get_current_revision() == head_revision()
            # The migrations create exactly what the models declare.
            diff = compare_metadata(ctx, SQLModel.metadata)
        assert diff == []
        tables = set(inspect(db).get_table_names())
        assert {"contacts", "cursors", "sync_runs", "audit_events", "memberships", "outbox"} <= (
            tables
        )
    finally:
        db.dispose()


def test_contact_round_trip_json_and_utc(db: Engine) -> None:
    stamp = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(db) as session:
        session.add(
            Contact(
                email="ada@example.com",
                hubspot_id="101",
                attributes={"open_rate": 0.42, "tags": ["vip"], "nested": {"a": 1}},
                updated_at=stamp,
            )
        )
    with session_scope(db) as session:
        contact = session.exec(select(Contact)).one()
        assert contact.attributes == {"open_rate": 0.42, "tags": ["vip"], "nested": {"a": 1}}
        assert contact.updated_at == stamp
        assert contact.updated_at.tzinfo is not None
        assert contact.updated_at.utcoffset() == timedelta(0)
        assert contact.workspace == "default"


def test_an_address_is_an_attribute_that_two_records_may_share(db: Engine) -> None:
    with session_scope(db) as session:
        session.add(Contact(email="x@example.com", hubspot_id="1"))
        session.add(Contact(email="x@example.com", hubspot_id="2"))
    with pytest.raises(IntegrityError), session_scope(db) as session:
        session.add(Contact(email="y@example.com", hubspot_id="1"))


def test_hubspot_id_unique_but_many_nulls(db: Engine) -> None:
    with session_scope(db) as session:
        session.add_all([Contact(email=f"n{i}@example.com") for i in range(3)])
        session.add(Contact(email="h@example.com", hubspot_id="7"))
    with pytest.raises(IntegrityError), session_scope(db) as session:
        session.add(Contact(email="h2@example.com", hubspot_id="7"))


def test_foreign_keys_enforced(db: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(db) as session:
        session.add(Membership(target="hubspot_list:x", contact_id=999, state="added"))


def test_cursor_ledger_and_outbox_in_one_transaction(db: Engine) -> None:
    with session_scope(db) as session:
        run = SyncRun(trigger="manual")
        contact = Contact(email="c@example.com")
        session.add_all([run, contact])
        session.flush()
        assert run.id is not None and contact.id is not None
        session.add(Cursor(workspace="default", connector="hubspot", stream="contacts", value="1"))
        session.add(
            OutboxEntry(
                run_id=run.id,
                target="mailchimp_tag:vip",
                contact_id=contact.id,
                action="add",
                payload={"email_hash": "abc"},
            )
        )
        session.add(
            Membership(
                target="mailchimp_tag:vip",
                contact_id=contact.id,
                state=MembershipState.ADDED,
                run_id=run.id,
            )
        )

    def crash_after_cursor_write() -> None:
        with session_scope(db) as session:
            cursor = session.get(Cursor, ("default", "hubspot", "contacts"))
            assert cursor is not None
            cursor.value = "2"
            session.add(cursor)
            session.flush()
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_after_cursor_write()
    with session_scope(db) as session:
        cursor = session.get(Cursor, ("default", "hubspot", "contacts"))
        assert cursor is not None and cursor.value == "1"
        entry = session.exec(select(OutboxEntry)).one()
        assert entry.state == "pending" and entry.payload == {"email_hash": "abc"}


def test_naive_datetimes_are_refused(db: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(db) as session:
        session.add(SyncRun(trigger="manual", started_at=datetime(2026, 1, 1)))  # noqa: DTZ001


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    db = make_engine("sqlite:///" + str(tmp_path) + "/wal.db")
    try:
        with db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def _open_at_gate(url: str, gate: Any, results: Any) -> None:
    db = make_engine(url)
    gate.wait()
    try:
        with db.connect() as conn:
            results.put(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
    except Exception as exc:  # noqa: BLE001 - the parent asserts on what came back
        results.put(repr(exc))
    finally:
        db.dispose()


def test_two_processes_opening_a_fresh_sqlite_file_at_once_both_get_wal(tmp_path: Path) -> None:
    # Both read the new file, then both want the exclusive lock the WAL switch needs; SQLite
    # fails one at once ("database is locked") without waiting. Unretried, about one round in
    # five failed; twenty rounds make a regression all but certain to show.
    ctx = multiprocessing.get_context("fork")
    for round_ in range(20):
        url = f"sqlite:///{tmp_path}/fresh-{round_}.db"
        gate, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_open_at_gate, args=(url, gate, results)) for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [results.get(timeout=5) for _ in procs] == ["wal", "wal"], f"round {round_}"


def test_utc_default_is_aware() -> None:
    run = SyncRun(trigger="manual")
    assert run.started_at.tzinfo is UTC
