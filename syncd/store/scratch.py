"""A scratch copy of the store for dry runs: every write is seen, then thrown away.

`syncd sync --dry-run` pulls, merges, segments and plans exactly as a real run does, so the
plan it prints is the one a real run would make, and it must change nothing:
- PostgreSQL: the engine's code gets one connection inside a transaction that is rolled back
  at the end; each `begin()` of its code becomes a savepoint there, so it reads its own
  writes, and other sessions never see them (MVCC).
- SQLite: a transaction would hold the database's single write lock for the whole dry run
  and stall the daemon, so the run works on a copy of the file (SQLite's online backup),
  deleted afterwards.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine

from syncd.store.db import make_engine


class _Scratch:
    """Enough of an `Engine` for the engine's code: `begin`, `connect`, `dialect`, `url`."""

    def __init__(self, conn: Connection, source: Engine) -> None:
        self._conn = conn
        self.dialect = source.dialect
        self.url = source.url

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._conn.begin_nested():
            yield self._conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._conn

    def dispose(self) -> None:
        """Nothing to release: `scratch` closes the connection."""


@contextmanager
def scratch(db: Engine) -> Iterator[Engine]:
    """A stand-in for `db` whose writes all vanish when the block ends."""
    if db.dialect.name == "sqlite":
        with _sqlite_copy(db) as copy:
            yield copy
        return
    with db.connect() as conn:
        outer = conn.begin()
        try:
            # The engine's code is typed for an Engine; `_Scratch` covers what it calls.
            yield cast(Engine, _Scratch(conn, db))
        finally:
            outer.rollback()


@contextmanager
def _sqlite_copy(db: Engine) -> Iterator[Engine]:
    source = db.url.database
    with tempfile.TemporaryDirectory(prefix="syncd-dry-run-") as tmp:
        target = Path(tmp) / "scratch.db"
        src = sqlite3.connect(source or ":memory:")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        copy = make_engine(f"sqlite:///{target}")
        try:
            yield copy
        finally:
            copy.dispose()
