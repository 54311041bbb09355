"""A person's decision on a hold: release its plan or reject it, with a record.

Both are taken under the workspace's apply lease (see `Syncer.release` / `Syncer.reject`).
The decision is recorded three times, each for its reader: on the hold (who, when), on the
holding run's figures (`RunCounts.decisions`, shown by `syncd runs` and the console), and in
the audit log (one event per decided target).
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from syncd.engine.holds import WaitingHold, waiting_holds
from syncd.errors import ConfigError
from syncd.failures import Reason
from syncd.store.counts import RunCounts
from syncd.store.models import (
    AuditEvent,
    Hold,
    HoldStatus,
    OutboxEntry,
    OutboxState,
    RunStatus,
    SyncRun,
)
from syncd.store.types import table_of

RELEASED, REJECTED = HoldStatus.RELEASED, HoldStatus.REJECTED


def local_user() -> str:
    """Who decides from the command line: the operating-system user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def holds_to_decide(
    conn: Connection, workspace: str, run_id: int, target: str | None
) -> list[WaitingHold]:
    """The waiting holds `--run ID [--target T]` names, or a clear error naming what waits.

    A run id names the holds it created and the holds it re-planned last, so the id shown
    on any run that says "waiting" works, as long as those holds belong to one run.

    Raises:
        ConfigError: Unknown run, nothing of it waits for a decision, or its holds belong to
            several runs (a release applies one run's plan at a time).
    """
    runs = table_of(SyncRun).c
    exists = conn.execute(
        select(runs.id).where(runs.id == run_id, runs.workspace == workspace)
    ).first()
    if exists is None:
        raise ConfigError(f"run {run_id} does not exist")
    waiting = waiting_holds(conn, workspace)
    holds = [w for w in waiting.values() if run_id in (w.run_id, w.planned_by_run)]
    if target is not None:
        holds = [w for w in holds if w.target == target]
    holding = sorted({w.run_id for w in holds})
    if len(holding) > 1:
        # A release applies one run's plan; each hold is decided on the run that holds it.
        each = ", ".join(f"--run {n}" for n in holding)
        raise ConfigError(f"run {run_id} re-planned holds of several runs; decide each: {each}")
    if holds:
        return holds
    what = f"target {target} of run {run_id}" if target else f"run {run_id}"
    others = ", ".join(f"{w.target} (run {w.run_id})" for w in waiting.values())
    hint = f"; waiting for a decision: {others}" if others else "; no hold is waiting"
    raise ConfigError(f"nothing of {what} waits for a decision{hint}")


def record(
    conn: Connection,
    workspace: str,
    holds: Sequence[WaitingHold],
    decision: HoldStatus,
    by: str,
    *,
    now: datetime,
) -> None:
    """Mark `holds` decided, move their outbox rows, and record who decided and when.

    A release turns the held rows `pending` (the caller applies them); a rejection cancels
    them. Either way the holding run's figures and the audit log say who and when.
    """
    table, outbox = table_of(Hold), table_of(OutboxEntry)
    o = outbox.c
    by = by[:128]
    for hold in holds:
        conn.execute(
            update(table)
            .where(table.c.id == hold.id)
            .values(status=decision, decided_by=by, decided_at=now, updated_at=now)
        )
        rows = (o.workspace == workspace, o.target == hold.target, o.state == OutboxState.HELD)
        if decision is RELEASED:
            moved = {"state": OutboxState.PENDING, "updated_at": now}
        else:
            moved = {
                "state": OutboxState.CANCELLED,
                "last_error": f"rejected by {by}",
                "reason_code": Reason.HOLD_REJECTED,
                "updated_at": now,
            }
        conn.execute(update(outbox).where(*rows).values(**moved))
        verb = "released" if decision is RELEASED else "rejected"
        conn.execute(
            table_of(AuditEvent)
            .insert()
            .values(
                workspace=workspace,
                run_id=hold.run_id,
                at=now,
                target=hold.target,
                action="release" if decision is RELEASED else "reject",
                reason=hold.reason[:256],
                outcome="decided",
                message=f"held plan {verb} by {by}",
            )
        )
        _note_decision(conn, hold, decision, by, now)


def _note_decision(
    conn: Connection, hold: WaitingHold, decision: HoldStatus, by: str, now: datetime
) -> None:
    runs = table_of(SyncRun)
    row = conn.execute(
        select(runs.c.counts, runs.c.status, runs.c.error_class).where(runs.c.id == hold.run_id)
    ).one()
    counts = RunCounts.from_json(row.counts)
    counts.held.pop(hold.target, None)
    counts.decisions.append(
        {"target": hold.target, "decision": str(decision), "by": by, "at": now.isoformat()}
    )
    values: dict[str, object] = {"counts": counts.to_json()}
    if decision is REJECTED and not counts.held and row.status == RunStatus.HELD:
        # Nothing of the run is left to apply: it ends as what it did (nothing), decided.
        values["status"] = RunStatus.SUCCESS
    conn.execute(runs.update().where(runs.c.id == hold.run_id).values(**values))
