"""Engines, sessions and schema checks for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on, so the daemon and an admin's `syncd runs` can
read and write at once. PostgreSQL goes through psycopg 3. Every command that touches data
calls `open_store`, which refuses a database whose schema is not at the newest migration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from syncd.errors import DatabaseNotMigratedError, error_for
from syncd.failures import Reason, advice

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Point plain `postgresql://` and `postgres://` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@retry(
    retry=retry_if_exception(_locked),
    wait=wait_random(0.005, 0.05),
    stop=stop_after_delay(30),
    reraise=True,
)
def _enter_wal(cur: Any) -> None:
    """Switch to WAL, retrying while another process holds the file mid-switch.

    Two processes opening a fresh file at once (two `syncd db upgrade`s as containers start)
    both read it, then both ask for the exclusive lock the switch needs; SQLite answers one
    "database is locked" at once without calling the busy handler, as waiting could deadlock.
    Once the other's switch is done, the retry finds WAL already on.
    """
    cur.execute("PRAGMA journal_mode=WAL")


def _sqlite_pragmas(dbapi_conn: Any, _: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    _enter_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, *, stall_timeout: timedelta | None = None) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL with syncd's connection settings.

    Args:
        url: The database URL.
        stall_timeout: PostgreSQL only: end a session that sits idle inside a transaction
            this long (`idle_in_transaction_session_timeout`). Set to the apply lease's TTL, so
            a writer paused mid-transaction (SIGSTOP, a suspended VM) cannot keep the rows it
            locked, the lease row included, from the writer that takes its lease over.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        db = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(db, "connect", _sqlite_pragmas)
        return db
    connect_args: dict[str, Any] = {}
    if stall_timeout is not None:
        ms = max(1000, int(stall_timeout.total_seconds() * 1000))
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={ms}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, built in code so no alembic.ini is needed at run time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration this version of syncd ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(db: Engine) -> str | None:
    """The migration the database is at, or None when it has never been migrated."""
    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the newest by default), one upgrader at a time.

    Two upgrades can start together (containers starting at once, a deploy hook beside an
    operator). Each takes a database-wide lock as the first statement of the transaction the
    migrations run in, so the second waits until the first has committed, then reads the
    revision the first wrote and has nothing left to do. The lock ends with the transaction,
    so a crashed upgrader never leaves it held. PostgreSQL: a transaction-level advisory lock.
    SQLite: the transaction opens with BEGIN IMMEDIATE, which takes the write lock up front.
    """
    db = _migration_engine(url)
    try:
        with db.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        db.dispose()


#: PostgreSQL advisory lock key that serialises `upgrade`: "syncd" in ASCII, then 1 for schema
#: migrations. It must never change, or an old and a new syncd would not wait for each other.
MIGRATION_LOCK = 0x7379_6E63_6400_0001

#: How long a SQLite upgrade waits for another writer (an upgrade, the daemon) to finish.
MIGRATION_BUSY_TIMEOUT_MS = 10 * 60 * 1000


def _migration_engine(url: str) -> Engine:
    """An engine for `upgrade`: on SQLite its transactions start with BEGIN IMMEDIATE.

    Python's sqlite3 module opens a transaction only before INSERT/UPDATE/DELETE, so DDL would
    run outside any transaction and two upgrades would race on `CREATE TABLE`. Taking over
    transaction control (as SQLAlchemy's pysqlite documentation describes) makes the whole
    upgrade one transaction that holds the write lock from its first statement.
    """
    db = make_engine(url)
    if db.dialect.name == "sqlite":
        event.listen(db, "connect", _sqlite_manual_transactions)
        event.listen(db, "begin", _sqlite_begin_immediate)
    return db


def _sqlite_manual_transactions(dbapi_conn: Any, _: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None  # the driver emits no BEGIN/COMMIT of its own
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={MIGRATION_BUSY_TIMEOUT_MS}")
    # Alembic alters a SQLite table by copying it and dropping the old one; with foreign keys
    # on, that drop would cascade into the rows that refer to it (ledger, outbox).
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def check_migrated(db: Engine) -> None:
    """Raise unless the schema is exactly at the newest migration.

    Raises:
        DatabaseNotMigratedError: Not migrated, or older than this syncd.
        ConfigError: The database cannot be reached at all.
    """
    where = db.url.render_as_string(hide_password=True)
    try:
        current = current_revision(db)
    except OperationalError as exc:
        first_line = str(exc.orig).strip().splitlines()[0]
        message = f"cannot open the database {where}: {first_line}"
        raise error_for(Reason.DATABASE_UNREACHABLE, message) from None
    head = head_revision()
    if current == head:
        return
    state = "has no syncd schema" if current is None else f"is at revision {current}"
    raise DatabaseNotMigratedError(
        f"database {where} {state}; this syncd needs revision {head}",
        hint=advice(Reason.NOT_MIGRATED),
    )


def open_store(url: str, *, stall_timeout: timedelta | None = None) -> Engine:
    """Create an engine and verify the schema; the entry point for every command.

    Args:
        url: The database URL.
        stall_timeout: See `make_engine`; writers pass the apply lease's TTL.
    """
    db = make_engine(url, stall_timeout=stall_timeout)
    try:
        check_migrated(db)
    except BaseException:
        db.dispose()
        raise
    return db


@contextmanager
def session_scope(db: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with Session(db, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
