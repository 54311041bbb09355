"""Holds per target: which targets a run holds, and how a hold carries over to later runs.

A guard that trips holds only the targets it tripped on; the run applies the others. A hold
waits until a person decides (`engine/decisions.py`). Until then every later run re-plans the
held target and replaces the waiting plan with its newer one, under the run that first held
it, so there is always exactly one hold per target and one place to review it. A hold whose
target has nothing left to change is cleared: there is nothing to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from syncd.failures import Reason
from syncd.store.counts import RunCounts
from syncd.store.models import Hold, HoldStatus, OutboxEntry, OutboxState, SyncRun
from syncd.store.types import table_of


@dataclass(frozen=True, slots=True)
class HeldTarget:
    """One target a run holds.

    Attributes:
        target: The target key.
        reason: The guard's words.
        run_id: The run the hold belongs to (the one that first held the target).
        new: Whether this run created the hold (rather than carrying a waiting one).
    """

    target: str
    reason: str
    run_id: int
    new: bool


@dataclass(frozen=True, slots=True)
class WaitingHold:
    """A hold waiting for a decision, as stored."""

    id: int
    target: str
    run_id: int
    reason: str
    created_at: datetime
    #: The newest run that re-planned the target while the hold waited.
    planned_by_run: int | None = None


def waiting_holds(conn: Connection, workspace: str) -> dict[str, WaitingHold]:
    """Target -> the hold waiting on it."""
    h = table_of(Hold).c
    rows = conn.execute(
        select(h.id, h.target, h.run_id, h.reason, h.created_at, h.planned_by_run)
        .where(h.workspace == workspace, h.status == HoldStatus.WAITING)
        .order_by(h.id)
    )
    return {r.target: WaitingHold(*r) for r in rows}


def carry(
    conn: Connection,
    workspace: str,
    run_id: int,
    planned: Mapping[str, Mapping[str, int]],
    tripped: Mapping[str, str],
    *,
    now: datetime,
) -> dict[str, HeldTarget]:
    """Decide which targets run `run_id` holds, updating the stored holds.

    Args:
        conn: The run's fenced transaction.
        workspace: Whose holds.
        run_id: The run being journalled.
        planned: Its plan's figures per target (`Plan.counts()`): targets with changes.
        tripped: Target -> reason, from this run's guards.
        now: The run's clock.

    Returns:
        Target -> how it is held. Waiting holds on targets without changes are cleared.
    """
    table = table_of(Hold)
    h = table.c
    out: dict[str, HeldTarget] = {}
    for target, hold in waiting_holds(conn, workspace).items():
        if not _has_changes(planned.get(target)):
            conn.execute(
                update(table)
                .where(h.id == hold.id)
                .values(
                    status=HoldStatus.CLEARED,
                    decided_at=now,
                    decided_by="syncd",
                    planned_by_run=run_id,
                    updated_at=now,
                )
            )
            _cancel_held_rows(conn, workspace, target, f"cleared by run {run_id}", now)
            _note_planned(conn, hold.run_id, target, {})
            continue
        reason = tripped.get(target, hold.reason)
        conn.execute(
            update(table)
            .where(h.id == hold.id)
            .values(reason=reason[:512], planned_by_run=run_id, updated_at=now)
        )
        _note_planned(conn, hold.run_id, target, planned[target])
        out[target] = HeldTarget(target, reason, hold.run_id, new=False)
    for target, reason in sorted(tripped.items()):
        if target in out or not _has_changes(planned.get(target)):
            continue
        conn.execute(
            table.insert().values(
                workspace=workspace,
                target=target,
                run_id=run_id,
                planned_by_run=run_id,
                reason=reason[:512],
                status=HoldStatus.WAITING,
                created_at=now,
                updated_at=now,
            )
        )
        out[target] = HeldTarget(target, reason, run_id, new=True)
    return out


def _has_changes(figures: Mapping[str, int] | None) -> bool:
    return figures is not None and any(figures.get(k, 0) for k in ("add", "remove", "set"))


def _cancel_held_rows(
    conn: Connection, workspace: str, target: str, why: str, now: datetime
) -> None:
    table = table_of(OutboxEntry)
    o = table.c
    conn.execute(
        update(table)
        .where(o.workspace == workspace, o.target == target, o.state == OutboxState.HELD)
        .values(
            state=OutboxState.CANCELLED,
            last_error=why,
            reason_code=Reason.SUPERSEDED,
            updated_at=now,
        )
    )


def _note_planned(
    conn: Connection, holding_run: int, target: str, figures: Mapping[str, int]
) -> None:
    """Keep the holding run's planned figures for `target` equal to the newest plan."""
    runs = table_of(SyncRun)
    raw = conn.execute(select(runs.c.counts).where(runs.c.id == holding_run)).scalar_one_or_none()
    counts = RunCounts.from_json(raw)
    row = dict(counts.targets.get(target, {}))
    for kind in ("add", "remove", "set"):
        row.pop(f"planned_{kind}", None)
        if figures.get(kind):
            row[f"planned_{kind}"] = int(figures[kind])
    counts.targets[target] = row
    conn.execute(runs.update().where(runs.c.id == holding_run).values(counts=counts.to_json()))
