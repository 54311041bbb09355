"""The segment history of a run: one snapshot per segment, and each member's stay tracked.

Called once per run that writes (after segmentation, before the plan is journalled), in the
run's fenced transaction. Per segment it stores size, entered, exited, holdout size and KPI
moments (`segment_snapshots`); who entered and left comes from the members of the last run,
kept compressed in one row per segment (`segment_member_sets`). For segments that measure
something (a success condition or a holdout) it keeps `segment_stints` current: a row per stay
of a contact, opened when it enters and closed when it leaves, with `success_at` stamped the
first run on which the segment's `success.when` holds within `success.within` of entering —
also after the contact left, since meeting the goal often moves it out of the segment (a trial
that converts leaves the trial segment). A member entering a holdout also gets a line in the
change log (`skip`, "held out for measurement"). Timestamps come from the run's clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Row, Table, and_, delete, insert, or_, select, update

from syncd.engine.segmentation import Segmented
from syncd.segments import RuleSet, Segment
from syncd.segments.kpis import HOLDOUT, MEMBERS, RULE_KEY
from syncd.segments.rules import fingerprint
from syncd.store.models import (
    AuditEvent,
    Contact,
    SegmentMemberSet,
    SegmentSnapshot,
    SegmentStint,
)
from syncd.store.types import table_of

_CHUNK = 5000


def record_segment_history(
    conn: Connection,
    workspace: str,
    run_id: int | None,
    rules: RuleSet,
    segmented: Segmented,
    now: datetime,
) -> None:
    """Write this run's snapshots and bring member sets and stays up to date (one transaction)."""
    members = _members(rules, segmented)
    before = _load_sets(conn, workspace)
    tracked = [s for s in rules.segments if s.success or s.holdout]
    rows = _open_stints(conn, workspace, [s.key for s in tracked], rules, now)
    open_by_segment: dict[str, dict[int, tuple[int, bool]]] = {}
    for r in rows:
        if r.exited_at is None:
            open_by_segment.setdefault(r.segment, {})[r.contact_id] = (r.id, r.held_out)
    snapshots = []
    for seg in rules.segments:
        now_in = members[seg.key]
        prev = before.pop(seg.key, None)
        entered = np.setdiff1d(now_in, prev, assume_unique=True) if prev is not None else now_in
        exited = np.setdiff1d(prev, now_in, assume_unique=True) if prev is not None else prev
        _save_set(conn, workspace, seg.key, now_in, now, update=prev is not None)
        held = segmented.held_out.get(seg.key, set())
        if seg.success or seg.holdout:
            _stays(conn, workspace, run_id, seg, now_in, held, open_by_segment.pop(seg.key, {}),
                   segmented, now)  # fmt: skip
        moments = segmented.kpis.get(seg.key, {})
        snapshots.append(
            {
                "workspace": workspace,
                "run_id": run_id,
                "at": now,
                "segment": seg.key,
                "size": len(now_in),
                "entered": len(entered),
                "exited": 0 if exited is None else len(exited),
                "holdout_size": len(held),
                "kpis": {
                    **{
                        g: {k: m.to_dict() for k, m in moments.get(g, {}).items()}
                        for g in (MEMBERS, HOLDOUT)
                        if g in moments
                    },
                    RULE_KEY: fingerprint(seg.when),
                },
            }
        )
    # Stays in segments that are gone or measure nothing any more end now; so do their sets.
    table = table_of(SegmentStint)
    _set(conn, table, [s for gone in open_by_segment.values() for s, _ in gone.values()],
         exited_at=now)  # fmt: skip
    if before:
        sets = table_of(SegmentMemberSet).c
        conn.execute(
            delete(table_of(SegmentMemberSet)).where(
                sets.workspace == workspace, sets.segment.in_(list(before))
            )
        )
    _successes(conn, rows, rules, segmented, now)
    _insert(conn, table_of(SegmentSnapshot), snapshots)


def _members(rules: RuleSet, segmented: Segmented) -> dict[str, npt.NDArray[np.int64]]:
    """Segment -> its members' contact ids (held out included), sorted."""
    return {s.key: segmented.members(s.key) for s in rules.segments}


def _load_sets(conn: Connection, workspace: str) -> dict[str, npt.NDArray[np.int64]]:
    sets = table_of(SegmentMemberSet).c
    rows = conn.execute(select(sets.segment, sets.ids).where(sets.workspace == workspace))
    return {r.segment: np.frombuffer(zlib.decompress(r.ids), dtype=np.int64) for r in rows}


def _save_set(
    conn: Connection,
    workspace: str,
    key: str,
    ids: npt.NDArray[np.int64],
    now: datetime,
    *,
    update: bool,
) -> None:
    blob = zlib.compress(ids.astype(np.int64).tobytes(), 6)
    table = table_of(SegmentMemberSet)
    if update:
        conn.execute(
            table.update()
            .where(table.c.workspace == workspace, table.c.segment == key)
            .values(ids=blob, updated_at=now)
        )
    else:
        conn.execute(
            insert(table).values(workspace=workspace, segment=key, ids=blob, updated_at=now)
        )


def _open_stints(
    conn: Connection, workspace: str, keys: list[str], rules: RuleSet, now: datetime
) -> Sequence[Row[Any]]:
    """Open stays, and closed ones still inside their success window (of every segment)."""
    stints = table_of(SegmentStint).c
    longest = max((s.success.within for s in rules.segments if s.success), default=timedelta(0))
    return conn.execute(
        select(
            stints.id, stints.segment, stints.contact_id, stints.held_out, stints.entered_at,
            stints.exited_at, stints.success_at,
        ).where(
            stints.workspace == workspace,
            or_(
                stints.exited_at.is_(None),
                and_(
                    stints.segment.in_(keys),
                    stints.success_at.is_(None),
                    stints.entered_at >= now - longest,
                ),
            ),
        )
    ).all()  # fmt: skip


def _stays(
    conn: Connection,
    workspace: str,
    run_id: int | None,
    seg: Segment,
    now_in: npt.NDArray[np.int64],
    held: set[int],
    was_in: dict[int, tuple[int, bool]],
    segmented: Segmented,
    now: datetime,
) -> None:
    """Open, close and re-flag the stays of one segment that measures something."""
    stints = table_of(SegmentStint)
    current = set(now_in.tolist())
    entered = current - was_in.keys()
    # A contact that meets the goal on the run it enters succeeds at once.
    met = segmented.succeeded.get(seg.key, set()) if seg.success else set()
    exited = [stint for cid, (stint, _) in was_in.items() if cid not in current]
    flipped = [
        (stint, cid in held)
        for cid, (stint, was_held) in was_in.items()
        if cid in current and (cid in held) != was_held
    ]
    _insert(
        conn,
        stints,
        [
            {"workspace": workspace, "segment": seg.key, "contact_id": cid,
             "held_out": cid in held, "entered_at": now,
             "success_at": now if cid in met else None}
            for cid in sorted(entered)
        ],
    )  # fmt: skip
    _set(conn, stints, exited, exited_at=now)
    for value in (True, False):
        _set(conn, stints, [s for s, h in flipped if h is value], held_out=value)
    if seg.holdout:
        _held_out_events(conn, workspace, run_id, seg.key, seg.holdout, entered & held, now)


def _successes(
    conn: Connection,
    rows: Sequence[Row[Any]],
    rules: RuleSet,
    segmented: Segmented,
    now: datetime,
) -> None:
    """Stamp `success_at` on stays whose success condition holds now, within their window.

    Stays opened on this run are not among `rows`; they got theirs when inserted.
    """
    table = table_of(SegmentStint)
    hits: list[int] = []
    for r in rows:
        seg = rules.segment_by_key.get(r.segment)
        if seg is None or seg.success is None or r.success_at is not None:
            continue
        if r.entered_at + seg.success.within < now:
            continue
        if r.contact_id in segmented.succeeded.get(seg.key, ()):
            hits.append(r.id)
    _set(conn, table, hits, success_at=now)


def _held_out_events(
    conn: Connection,
    workspace: str,
    run_id: int | None,
    key: str,
    percent: float,
    contact_ids: set[int],
    now: datetime,
) -> None:
    """One change-log line per member entering its segment's holdout (written nowhere)."""
    if not contact_ids:
        return
    c = table_of(Contact).c
    people: list[Row[Any]] = []
    ids = sorted(contact_ids)
    for i in range(0, len(ids), _CHUNK):
        people += conn.execute(
            select(c.id, c.email, c.hubspot_id, c.mailchimp_id).where(c.id.in_(ids[i : i + _CHUNK]))
        ).all()
    reason = f"in segment {key}, held out for measurement (holdout {percent:g}%)"
    _insert(
        conn,
        table_of(AuditEvent),
        [
            {"workspace": workspace, "run_id": run_id, "at": now, "contact_id": p.id,
             "email": p.email, "hubspot_id": p.hubspot_id, "mailchimp_id": p.mailchimp_id,
             "segment": key, "target": None, "action": "skip", "reason": reason,
             "outcome": "skipped"}
            for p in people
        ],
    )  # fmt: skip


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), _CHUNK):
        conn.execute(insert(table), rows[i : i + _CHUNK])


def _set(conn: Connection, table: Table, ids: list[int], **values: Any) -> None:
    for i in range(0, len(ids), _CHUNK):
        conn.execute(update(table).where(table.c.id.in_(ids[i : i + _CHUNK])).values(**values))
