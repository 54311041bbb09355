"""Reclaiming the dead row versions a run's bulk updates leave in PostgreSQL tables.

A first run journals every change as a `pending` outbox row and apply then marks each one
done: at 100k contacts, half a million rows updated, each leaving its old version behind, and
the `(workspace, state)` index still pointing at the old `pending` ones. The next run's first
look for pending rows (superseding them) then visits every dead version: 4.6 s on the 100k
benchmark, against nothing on SQLite. Autovacuum reclaims them in time where it is on (it may
be off, or a minute away), so after a run that updated many rows, syncd vacuums the table
itself. Other databases need nothing.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from syncd.events import Event
from syncd.logs import get_logger

#: Updated rows from which a vacuum pays for itself (a few seconds at 500k rows).
WORTH_VACUUMING = 10_000

log = get_logger(__name__)


def vacuum_after(db: Engine, table: str, updated: int) -> bool:
    """VACUUM (ANALYZE) `table` on PostgreSQL when a run updated at least `WORTH_VACUUMING` rows.

    A refusal (not the table's owner, say) is logged and the run goes on. Returns whether it
    vacuumed.
    """
    if db.dialect.name != "postgresql" or updated < WORTH_VACUUMING:
        return False
    return _maintain(db, "VACUUM (ANALYZE)", table, Event.STORE_VACUUM_FAILED)


def analyze(db: Engine, table: str) -> bool:
    """ANALYZE `table` on PostgreSQL (no-op elsewhere); False if it was refused (logged)."""
    if db.dialect.name != "postgresql":
        return False
    return _maintain(db, "ANALYZE", table, Event.STORE_ANALYZE_FAILED)


def _maintain(db: Engine, command: str, table: str, refused: Event) -> bool:
    """Run `command table` on its own connection, outside any transaction (VACUUM needs it)."""
    quoted = db.dialect.identifier_preparer.quote(table)
    try:
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"{command} {quoted}")
    except DBAPIError as e:
        log.warning(refused, table=table, error=type(e).__name__)
        return False
    return True
