"""Reading the segment history: snapshots over time and the outcome of each member's stay.

What `syncd segments report` and the console's segments page read; the engine writes both
tables (`engine/snapshots.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, func, select

from syncd.store.models import SegmentSnapshot, SegmentStint
from syncd.store.types import table_of


@dataclass(frozen=True)
class Snapshot:
    """One segment's figures at the end of one run."""

    segment: str
    at: datetime
    run_id: int | None
    size: int
    entered: int
    exited: int
    holdout_size: int
    kpis: dict[str, Any]


def read_snapshots(
    db: Engine, workspace: str, *, since: datetime | None = None, segment: str | None = None
) -> list[Snapshot]:
    """Snapshots oldest first, optionally since a time and for one segment."""
    s = table_of(SegmentSnapshot).c
    query = select(
        s.segment, s.at, s.run_id, s.size, s.entered, s.exited, s.holdout_size, s.kpis
    ).where(s.workspace == workspace)
    if since is not None:
        query = query.where(s.at >= since)
    if segment is not None:
        query = query.where(s.segment == segment)
    with db.connect() as conn:
        rows = conn.execute(query.order_by(s.at, s.id)).all()
    return [Snapshot(*r) for r in rows]


@dataclass
class Outcomes:
    """How the stays of one group (members or holdout) of one segment turned out.

    Attributes:
        tracked: Stays that entered in the period.
        succeeded: Of those, stays that met the success condition in time.
        expired: Stays whose window passed without success.
        days_to_success: Days from entering to success, one per success.
    """

    tracked: int = 0
    succeeded: int = 0
    expired: int = 0
    days_to_success: list[float] = field(default_factory=list)

    @property
    def still_open(self) -> int:
        """Stays whose window is still open and that have not succeeded yet."""
        return self.tracked - self.succeeded - self.expired


def read_outcomes(
    db: Engine,
    workspace: str,
    windows: dict[str, timedelta],
    now: datetime,
    *,
    since: datetime | None = None,
) -> dict[str, dict[bool, Outcomes]]:
    """Segment -> held_out -> outcomes of the stays in the segments with a success window."""
    t = table_of(SegmentStint).c
    out: dict[str, dict[bool, Outcomes]] = {}
    with db.connect() as conn:
        for key, within in windows.items():
            where: Sequence[Any] = [t.workspace == workspace, t.segment == key]
            if since is not None:
                where = [*where, t.entered_at >= since]
            expired = case((t.success_at.is_(None) & (t.entered_at < now - within), 1), else_=0)
            counts = conn.execute(
                select(
                    t.held_out,
                    func.count(),
                    func.count(t.success_at),
                    func.coalesce(func.sum(expired), 0),
                )
                .where(*where)
                .group_by(t.held_out)
            ).all()
            groups = {bool(h): Outcomes(int(n), int(s), int(e)) for h, n, s, e in counts}
            for held, entered, success in conn.execute(
                select(t.held_out, t.entered_at, t.success_at).where(
                    *where, t.success_at.is_not(None)
                )
            ):
                groups.setdefault(bool(held), Outcomes()).days_to_success.append(
                    (success - entered).total_seconds() / 86400
                )
            out[key] = groups
    return out


def first_snapshots(db: Engine, workspace: str) -> dict[str, datetime]:
    """Segment -> when its first snapshot was taken (how long it has been synced)."""
    s = table_of(SegmentSnapshot).c
    with db.connect() as conn:
        rows = conn.execute(
            select(s.segment, func.min(s.at)).where(s.workspace == workspace).group_by(s.segment)
        ).all()
    return {seg: at for seg, at in rows}
