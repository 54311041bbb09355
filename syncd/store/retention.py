"""Retention: forget change-log rows and finished outbox rows older than `audit.retention_days`.

The daemon calls `prune` once in a while. Deletion runs in chunks, each in its own short
transaction, so pruning a million rows never holds one giant transaction (which on SQLite
would block the daemon's writers and on PostgreSQL would bloat WAL and hold locks), and an
interrupted prune simply continues next time.

Only the outbox rows that can never be sent again are pruned (done, cancelled, rejected);
pending and in-flight rows are the journal a crashed run resumes from, however old. Runs and the
ownership ledger are kept: they are small, and the ledger is what makes removals safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Table, delete, select

from syncd.errors import ConfigError
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store.models import AuditEvent, OutboxEntry, OutboxState
from syncd.store.types import table_of

log = get_logger(__name__)

#: Rows per delete transaction: small enough to keep each transaction short.
CHUNK = 10_000

#: Outbox states that are history, never to be sent again.
FINISHED = (OutboxState.DONE, OutboxState.CANCELLED, OutboxState.REJECTED)


def prune(
    db: Engine, workspace: str, retention_days: int, now: datetime, *, chunk: int = CHUNK
) -> int:
    """Delete audit events and finished outbox rows older than `retention_days`.

    Args:
        db: The store.
        workspace: Whose rows.
        retention_days: Keep this many days; 0 keeps everything (pruning off).
        now: The clock (aware UTC), so tests and the daemon agree on the cutoff.
        chunk: Rows per delete transaction.

    Returns:
        How many rows were deleted (audit events plus outbox rows).

    Raises:
        ConfigError: `retention_days` is negative.
    """
    if retention_days < 0:
        raise ConfigError(
            f"audit.retention_days must be 0 (keep everything) or more, not {retention_days}"
        )
    if retention_days == 0:
        return 0
    cutoff = now - timedelta(days=retention_days)
    audit = table_of(AuditEvent)
    outbox = table_of(OutboxEntry)
    events = _delete_chunked(
        db, audit, [audit.c.workspace == workspace, audit.c.at < cutoff], chunk
    )
    finished = [
        outbox.c.workspace == workspace,
        outbox.c.state.in_([str(s) for s in FINISHED]),
        outbox.c.updated_at < cutoff,
    ]
    outbox_rows = _delete_chunked(db, outbox, finished, chunk)
    if events or outbox_rows:
        log.info(
            Event.RETENTION_PRUNED,
            audit_events=events,
            outbox_rows=outbox_rows,
            retention_days=retention_days,
            cutoff=cutoff.isoformat(),
        )
    return events + outbox_rows


def _delete_chunked(
    db: Engine, table: Table, where: Sequence[ColumnElement[bool]], chunk: int
) -> int:
    """Delete matching rows `chunk` at a time by primary key, one transaction per chunk."""
    pk = table.c.id
    total = 0
    while True:
        with db.begin() as conn:
            ids = conn.execute(select(pk).where(*where).limit(chunk)).scalars().all()
            if ids:
                conn.execute(delete(table).where(pk.in_(ids)))
        total += len(ids)
        if len(ids) < chunk:
            return total
