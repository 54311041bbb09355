"""Crash recovery: close the runs a killed (or paused and overtaken) writer left `running`.

Every run row is created under the workspace's apply lease, so once a writer holds that lease
no other run of the workspace can still be alive: any row still `running` belongs to a process
that was killed or lost its lease. `recover_interrupted` runs right after each writer takes
the lease and closes such runs as `interrupted`, with the figures they reached (from their
audit events and outbox), and closes their outbox rows. What they had in flight was never
confirmed, so the ledger does not show it and the next plan sends it again: at most once, as
the outbox promises.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from syncd.events import Event
from syncd.failures import ErrorClass, Reason
from syncd.logs import get_logger
from syncd.store.counts import RunCounts
from syncd.store.lease import Fence, fenced
from syncd.store.models import AuditEvent, OutboxEntry, OutboxState, RunStatus, SyncRun
from syncd.store.types import table_of

log = get_logger(__name__)

#: Audit (action, outcome) -> the per-target figure a finished run would have recorded.
_APPLIED = {"add": "added", "remove": "removed", "set": "set"}
_PLANNED = {"add": "planned_add", "remove": "planned_remove", "set": "planned_set"}


def recover_interrupted(db: Engine, workspace: str, fence: Fence, now: datetime) -> list[int]:
    """Close every `running` run of the workspace as `interrupted`; returns their ids.

    Call only while holding the workspace's apply lease (the fence proves it).
    """
    r = table_of(SyncRun).c
    with fenced(db, fence) as conn:
        rows = conn.execute(
            select(r.id, r.holder, r.counts, r.started_at).where(
                r.workspace == workspace, r.status == RunStatus.RUNNING
            )
        ).all()
        for run_id, holder, counts, started_at in rows:
            _close(conn, run_id, holder, RunCounts.from_json(counts), started_at, now)
    return [row[0] for row in rows]


def _close(
    conn: Connection,
    run_id: int,
    holder: str | None,
    counts: RunCounts,
    started_at: datetime,
    now: datetime,
) -> None:
    targets, last_event = _figures(conn, run_id)
    o = table_of(OutboxEntry)
    left: Counter[str] = Counter()
    for state, n in conn.execute(
        select(o.c.state, func.count())
        .where(o.c.run_id == run_id, o.c.state.in_([OutboxState.PENDING, OutboxState.IN_FLIGHT]))
        .group_by(o.c.state)
    ):
        left[state] = int(n)
    conn.execute(
        o.update()
        .where(o.c.run_id == run_id, o.c.state == OutboxState.IN_FLIGHT)
        .values(
            state=OutboxState.CANCELLED,
            last_error=f"in flight when run {run_id} was interrupted; the next plan resends it "
            "if it is still wanted",
            reason_code=Reason.INTERRUPTED,
            updated_at=now,
        )
    )
    conn.execute(
        o.update()
        .where(o.c.run_id == run_id, o.c.state == OutboxState.PENDING)
        .values(
            state=OutboxState.CANCELLED,
            last_error=f"run {run_id} was interrupted before sending it; re-planned next run",
            reason_code=Reason.INTERRUPTED,
            updated_at=now,
        )
    )
    counts.targets = targets
    counts.interrupted = {
        "in_flight": int(left[OutboxState.IN_FLIGHT]),
        "pending": int(left[OutboxState.PENDING]),
    }
    who = holder or "the process running it"
    message = (
        f"interrupted: {who} stopped before the run finished (killed, or it lost the apply "
        "lease); closed by the next writer, whose plan resends what was not confirmed"
    )
    r = table_of(SyncRun)
    conn.execute(
        r.update()
        .where(r.c.id == run_id, r.c.status == RunStatus.RUNNING)
        .values(
            status=RunStatus.INTERRUPTED,
            finished_at=max(last_event or started_at, started_at),
            counts=counts.to_json(),
            error_class=ErrorClass.TRANSIENT,
            error_message=message,
            reason_code=Reason.INTERRUPTED,
        )
    )
    log.warning(
        Event.RUN_RECOVERED,
        run_id=run_id,
        holder=holder,
        **counts.interrupted,
    )


def _figures(conn: Connection, run_id: int) -> tuple[dict[str, dict[str, int]], datetime | None]:
    """Per-target figures of a run from its outbox (planned) and audit events (outcomes)."""
    out: dict[str, Counter[str]] = {}
    o = table_of(OutboxEntry).c
    planned = conn.execute(
        select(o.target, o.action, func.count())
        .where(o.run_id == run_id)
        .group_by(o.target, o.action)
    ).all()
    for target, action, n in planned:
        out.setdefault(target, Counter())[_PLANNED.get(action, f"planned_{action}")] += int(n)
    a = table_of(AuditEvent).c
    done = conn.execute(
        select(a.target, a.action, a.outcome, func.count(), func.max(a.at))
        .where(a.run_id == run_id, a.target.is_not(None))
        .group_by(a.target, a.action, a.outcome)
    ).all()
    last: datetime | None = None
    for target, action, outcome, n, at in done:
        key = _APPLIED.get(action, action) if outcome == "applied" else outcome
        out.setdefault(target, Counter())[key] += int(n)
        if at is not None and (last is None or at > last):
            last = at
    figures = {t: {k: v for k, v in sorted(c.items()) if v} for t, c in sorted(out.items())}
    return figures, last
