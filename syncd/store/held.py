"""The read model of holds: what waits for a decision, and the held plan of a run.

`syncd plan --run`, `syncd runs` and the console read holds through here; the engine's
`engine/holds.py` and `engine/decisions.py` write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from syncd.failures import Reason
from syncd.store.models import (
    Contact,
    Hold,
    HoldStatus,
    OutboxEntry,
    OutboxState,
    RunStatus,
    SyncRun,
)
from syncd.store.types import table_of


@dataclass
class HeldTargetView:
    """One hold with its plan's figures (and, when asked, its changes)."""

    target: str
    run_id: int
    planned_by_run: int | None
    reason: str
    status: str
    since: datetime
    decided_by: str | None
    decided_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As `syncd plan --run ID --json` prints it."""
        return {
            "target": self.target,
            "run_id": self.run_id,
            "planned_by_run": self.planned_by_run,
            "reason": self.reason,
            "status": self.status,
            "since": self.since.isoformat(),
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "counts": self.counts,
            "total": self.total,
            "changes": self.changes,
        }


def waiting_targets(conn: Connection, workspace: str) -> list[HeldTargetView]:
    """Every hold waiting for a decision, oldest first (the console's banner, `/healthz`)."""
    return _holds(conn, workspace, [HoldStatus.WAITING], None)


def run_holds(
    conn: Connection,
    workspace: str,
    run_id: int,
    target: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[HeldTargetView]:
    """The holds run `run_id` made or re-planned last, each with its held changes.

    Args:
        conn: A connection.
        workspace: Whose holds.
        run_id: The holding run, or the run that re-planned the hold last.
        target: Only this target.
        limit: At most this many changes per target (all when None).
        offset: Skip this many changes per target first.
    """
    holds = _holds(conn, workspace, None, run_id)
    if target is not None:
        holds = [h for h in holds if h.target == target]
    for hold in holds:
        _fill(conn, workspace, hold, limit=limit, offset=offset)
    return holds


def _holds(
    conn: Connection, workspace: str, statuses: list[HoldStatus] | None, run_id: int | None
) -> list[HeldTargetView]:
    h = table_of(Hold).c
    query = select(table_of(Hold)).where(h.workspace == workspace).order_by(h.id)
    if statuses is not None:
        query = query.where(h.status.in_([str(s) for s in statuses]))
    if run_id is not None:
        query = query.where(or_(h.run_id == run_id, h.planned_by_run == run_id))
    return [
        HeldTargetView(
            target=r.target,
            run_id=r.run_id,
            planned_by_run=r.planned_by_run,
            reason=r.reason,
            status=r.status,
            since=r.created_at,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )
        for r in conn.execute(query)
    ]


def _fill(
    conn: Connection, workspace: str, hold: HeldTargetView, *, limit: int | None, offset: int
) -> None:
    """The hold's outbox rows: held ones while it waits, whatever became of them after."""
    o, c = table_of(OutboxEntry).c, table_of(Contact).c
    where = [o.workspace == workspace, o.run_id == hold.run_id, o.target == hold.target]
    if hold.status == HoldStatus.WAITING:
        where.append(o.state == OutboxState.HELD)
    elif hold.status == HoldStatus.RELEASED:
        where.append(o.state != OutboxState.CANCELLED)
    else:
        where.append((o.reason_code == Reason.HOLD_REJECTED) | (o.state == OutboxState.HELD))
    counts = conn.execute(select(o.action, func.count()).where(*where).group_by(o.action)).all()
    hold.counts = {str(action): int(n) for action, n in counts}
    hold.total = sum(hold.counts.values())
    query = (
        select(o.action, o.reason, o.state, o.payload, c.email, c.hubspot_id, c.mailchimp_id)
        .join_from(table_of(OutboxEntry), table_of(Contact), o.contact_id == c.id)
        .where(*where)
        .order_by(o.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    hold.changes = [
        {
            "action": r.action,
            "contact": r.email,
            "hubspot_id": r.hubspot_id,
            "mailchimp_id": r.mailchimp_id,
            "reason": r.reason,
            "state": r.state,
            "value": (r.payload or {}).get("value"),
        }
        for r in conn.execute(query)
    ]


@dataclass(frozen=True)
class HealthFacts:
    """What `/healthz` reads from the store: holds, recent failures, the last success."""

    held_targets: list[str]
    consecutive_failures: int
    last_success_at: datetime | None


def health_facts(conn: Connection, workspace: str, *, window: int = 20) -> HealthFacts:
    """The store's share of the daemon's health, in two small queries.

    Args:
        conn: A connection.
        workspace: Whose runs.
        window: How many recent runs are looked at for consecutive failures.
    """
    r = table_of(SyncRun).c
    recent = conn.execute(
        select(r.status, r.finished_at)
        .where(r.workspace == workspace, r.status != RunStatus.RUNNING)
        .order_by(r.id.desc())
        .limit(window)
    ).all()
    failures = 0
    for status, _ in recent:
        if status not in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            break
        failures += 1
    last = conn.execute(
        select(func.max(r.finished_at)).where(
            r.workspace == workspace, r.status.in_([RunStatus.SUCCESS, RunStatus.PARTIAL])
        )
    ).scalar_one_or_none()
    held = sorted(h.target for h in waiting_targets(conn, workspace))
    return HealthFacts(held, failures, last)
