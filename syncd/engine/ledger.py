"""The ownership ledger and the outbox, as bulk reads and writes on the store.

Bulk statements (SQLAlchemy Core) rather than ORM objects, because a run touches every
contact: 20,000 contacts with a dozen targets is a quarter of a million ledger rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from syncd.engine.plan import Change, LedgerEntry
from syncd.errors import InternalError
from syncd.failures import Reason
from syncd.store.bulk import insert_many
from syncd.store.models import Contact, Membership, MembershipState, OutboxEntry, OutboxState
from syncd.store.types import table_of

_CHUNK = 5000


def load_ledger(conn: Connection, workspace: str) -> dict[str, dict[int, LedgerEntry]]:
    """Every ledger row of the workspace as `target -> contact id -> entry`."""
    return _ledger(conn, workspace)


def ledger_for(
    conn: Connection, workspace: str, first_id: int, last_id: int
) -> dict[str, dict[int, LedgerEntry]]:
    """The ledger rows of contacts `first_id..last_id`, as `load_ledger` shapes them.

    The planner reads the ledger one chunk of contacts at a time: at a million contacts with
    a dozen targets the whole ledger is millions of rows. The range walks `contact_id`'s index.
    """
    m = table_of(Membership).c
    return _ledger(conn, workspace, m.contact_id.between(first_id, last_id))


def _ledger(
    conn: Connection, workspace: str, *where: ColumnElement[bool]
) -> dict[str, dict[int, LedgerEntry]]:
    ledger: dict[str, dict[int, LedgerEntry]] = defaultdict(dict)
    m = table_of(Membership).c
    rows = conn.execute(
        select(m.target, m.contact_id, m.state, m.value, m.updated_at).where(
            m.workspace == workspace, *where
        )
    )
    for target, contact_id, state, value, since in rows:
        ledger[target][contact_id] = LedgerEntry(state, value, since)
    return dict(ledger)


def ledger_summary(conn: Connection, workspace: str) -> tuple[list[str], Counter[str]]:
    """Every target the ledger names, and how many memberships syncd owns (`added`) in each.

    One aggregate query: what the planner needs of the whole ledger before it reads it chunk
    by chunk (targets no longer configured are emptied; the guards count owned rows).
    """
    m = table_of(Membership).c
    added = func.sum(case((m.state == MembershipState.ADDED, 1), else_=0))
    rows = conn.execute(select(m.target, added).where(m.workspace == workspace).group_by(m.target))
    owned: Counter[str] = Counter()
    targets = []
    for target, n in rows:
        targets.append(target)
        if n:
            owned[target] = int(n)
    return targets, owned


def set_ledger(
    conn: Connection,
    workspace: str,
    rows: Iterable[tuple[str, int, str, str | None]],
    run_id: int | None,
    *,
    now: datetime,
) -> int:
    """Upsert `(target, contact id, state, value)` rows; returns how many were written.

    One `INSERT ... ON CONFLICT DO UPDATE` per chunk of rows (both SQLite and PostgreSQL
    take it), so a run that confirms 20,000 changes to rows that already exist costs a few
    statements, not 20,000. The last row for a key wins, as the plan has at most one.
    """
    by_key = {(t, c): (s, v) for t, c, s, v in rows}
    if not by_key:
        return 0
    values = [
        {
            "workspace": workspace,
            "target": t,
            "contact_id": c,
            "state": s,
            "value": v,
            "run_id": run_id,
            "updated_at": now,
        }
        for (t, c), (s, v) in by_key.items()
    ]
    stmt = _insert_memberships(conn)
    stmt = stmt.on_conflict_do_update(
        index_elements=["workspace", "target", "contact_id"],
        set_={
            "state": stmt.excluded.state,
            "value": stmt.excluded.value,
            "run_id": stmt.excluded.run_id,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    for start in range(0, len(values), _CHUNK):
        conn.execute(stmt, values[start : start + _CHUNK])
    return len(values)


def _insert_memberships(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT on the ledger, the form that offers `on_conflict_do_update`."""
    table = table_of(Membership)
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise InternalError(f"the ledger needs SQLite or PostgreSQL, not {conn.dialect.name}")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row joined with the contact ids the connectors need."""

    id: int
    run_id: int
    target: str
    contact_id: int
    action: str
    value: str | None
    reason: str | None
    attempts: int
    email: str
    hubspot_id: str | None
    mailchimp_id: str | None
    #: The member's own address: Mailchimp is written at it, never at HubSpot's.
    mailchimp_email: str | None = None


def write_outbox(
    conn: Connection,
    workspace: str,
    run_id: int,
    changes: Sequence[Change],
    *,
    now: datetime,
    held: Mapping[str, int] | None = None,
) -> int:
    """Journal the plan before any API call; supersedes older pending rows of the workspace.

    Args:
        conn: The run's fenced transaction.
        workspace: Whose outbox.
        run_id: The run journalling its plan.
        changes: The plan's changes.
        now: The run's clock.
        held: Held target -> the run holding it. Their changes are written `held`, under
            the holding run, replacing the plan that waited there.
    """
    held = held or {}
    table = table_of(OutboxEntry)
    o = table.c
    conn.execute(
        update(table)
        .where(o.workspace == workspace, o.state == OutboxState.PENDING, o.run_id != run_id)
        .values(
            state=OutboxState.CANCELLED,
            last_error=f"superseded by run {run_id}",
            reason_code=Reason.SUPERSEDED,
            updated_at=now,
        )
    )
    if held:
        conn.execute(
            update(table)
            .where(
                o.workspace == workspace,
                o.state == OutboxState.HELD,
                o.target.in_(list(held)),
            )
            .values(
                state=OutboxState.CANCELLED,
                last_error=f"replaced by the plan of run {run_id}",
                reason_code=Reason.SUPERSEDED,
                updated_at=now,
            )
        )
    columns = (
        "workspace", "run_id", "target", "contact_id", "action", "payload", "reason", "state",
        "attempts", "created_at", "updated_at",
    )  # fmt: skip
    rows = (
        (
            workspace,
            held.get(c.target, run_id),
            c.target,
            c.contact_id,
            str(c.action),
            {"value": c.value},
            c.reason,
            str(OutboxState.HELD if c.target in held else OutboxState.PENDING),
            0,
            now,
            now,
        )
        for c in changes
    )
    # Made a chunk at a time, at the driver's speed: a first run at a million contacts
    # journals millions of rows.
    return insert_many(conn, table, columns, rows)


def _outbox_rows(workspace: str, run_id: int, states: Sequence[str]) -> Select[Any]:
    """The run's outbox rows in `states` joined with the contact's remote ids, by id."""
    o = table_of(OutboxEntry).c
    c = table_of(Contact).c
    return (
        select(
            o.id,
            o.run_id,
            o.target,
            o.contact_id,
            o.action,
            o.payload,
            o.reason,
            o.attempts,
            c.email,
            c.hubspot_id,
            c.mailchimp_id,
            c.mailchimp_email,
        )
        .join_from(table_of(OutboxEntry), table_of(Contact), o.contact_id == c.id)
        .where(o.workspace == workspace, o.run_id == run_id, o.state.in_(list(states)))
        .order_by(o.id)
    )


def _items(rows: Iterable[Row[Any]]) -> list[OutboxItem]:
    return [
        OutboxItem(
            id=r.id,
            run_id=r.run_id,
            target=r.target,
            contact_id=r.contact_id,
            action=r.action,
            value=(r.payload or {}).get("value"),
            reason=r.reason,
            attempts=r.attempts,
            email=r.email,
            hubspot_id=r.hubspot_id,
            mailchimp_id=r.mailchimp_id,
            mailchimp_email=r.mailchimp_email,
        )
        for r in rows
    ]


def pending_counts(
    conn: Connection, workspace: str, run_id: int, states: Sequence[str]
) -> dict[str, int]:
    """How many of the run's outbox rows are in `states`, per target."""
    o = table_of(OutboxEntry).c
    rows = conn.execute(
        select(o.target, func.count())
        .where(o.workspace == workspace, o.run_id == run_id, o.state.in_(list(states)))
        .group_by(o.target)
    )
    return {target: int(n) for target, n in rows}


def pending_page(
    conn: Connection,
    workspace: str,
    run_id: int,
    states: Sequence[str],
    *,
    target: str,
    after_id: int,
    limit: int,
) -> list[OutboxItem]:
    """Up to `limit` of the run's rows for `target` in `states` with ids above `after_id`.

    Apply walks each target's rows page by page (`ix_outbox_run_target`), so a run of
    millions of changes is never loaded whole. Rows handled earlier in the walk have lower
    ids, so marking them done or back to pending never moves the walk.
    """
    o = table_of(OutboxEntry).c
    query = _outbox_rows(workspace, run_id, states).where(o.target == target, o.id > after_id)
    return _items(conn.execute(query.limit(limit)))


def mark(
    conn: Connection,
    ids: Iterable[int],
    state: str,
    error: str | None = None,
    bump_attempts: bool = False,
    *,
    now: datetime,
) -> None:
    """Move outbox rows to `state`."""
    table = table_of(OutboxEntry)
    o = table.c
    id_list = list(ids)
    values: dict[str, object] = {"state": state, "updated_at": now}
    if error is not None:
        values["last_error"] = error
    if bump_attempts:
        values["attempts"] = o.attempts + 1
    for start in range(0, len(id_list), _CHUNK):
        conn.execute(
            update(table).where(o.id.in_(id_list[start : start + _CHUNK])).values(**values)
        )


def mark_each(
    conn: Connection,
    rows: Sequence[tuple[int, str | None, Reason | None]],
    state: str,
    *,
    now: datetime,
) -> None:
    """Move outbox rows to `state` after an attempt, each with its own error and reason.

    Rows are grouped by their (error, reason) pair, which a batch's failures mostly share
    ("retryable failure", one vendor refusal): each shared pair is one UPDATE over its ids,
    and the rows whose words are their own go in one executemany.
    """
    table = table_of(OutboxEntry)
    o = table.c
    groups: dict[tuple[str | None, Reason | None], list[int]] = defaultdict(list)
    for row_id, error, reason in rows:
        groups[(error, reason)].append(row_id)
    singles: list[dict[str, object]] = []
    for (error, reason), ids in groups.items():
        if len(ids) == 1:
            singles.append({"_id": ids[0], "_error": error, "_reason": reason})
            continue
        for start in range(0, len(ids), _CHUNK):
            conn.execute(
                update(table)
                .where(o.id.in_(ids[start : start + _CHUNK]))
                .values(
                    state=state,
                    last_error=error,
                    reason_code=reason,
                    attempts=o.attempts + 1,
                    updated_at=now,
                )
            )
    if singles:
        conn.execute(
            update(table)
            .where(o.id == bindparam("_id"))
            .values(
                state=state,
                last_error=bindparam("_error"),
                reason_code=bindparam("_reason"),
                attempts=o.attempts + 1,
                updated_at=now,
            ),
            singles,
        )
