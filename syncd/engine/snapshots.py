"""The segment history of a run: one snapshot per segment, and each member's stay tracked.

Called once per run that writes (after segmentation, before the plan is journalled), in the
run's fenced transaction. Per segment it stores size, entered, exited, holdout size and KPI
moments (`segment_snapshots`), and keeps `segment_stints` current: a row per stay of a contact
in a segment, opened when it enters and closed when it leaves, with `success_at` stamped the
first run on which the segment's `success.when` holds within `success.within` of entering —
also after the contact left, since meeting the goal often moves it out of the segment (a trial
that converts leaves the trial segment). A member entering a holdout also gets a line in the
change log (`skip`, "held out for measurement"). Timestamps come from the run's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, insert, or_, select, update

from syncd.engine.segmentation import Segmented
from syncd.segments import RuleSet
from syncd.segments.kpis import HOLDOUT, MEMBERS, RULE_KEY
from syncd.segments.rules import fingerprint
from syncd.store.models import AuditEvent, Contact, SegmentSnapshot, SegmentStint
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
    """Write this run's snapshots and bring the stints up to date (one fenced transaction)."""
    stints = table_of(SegmentStint)
    snaps = table_of(SegmentSnapshot)
    members: dict[str, set[int]] = {s.key: set() for s in rules.segments}
    for c in segmented.contacts:
        for key in c.segments:
            members[key].add(c.contact_id)
    for key, held in segmented.held_out.items():
        members[key] |= held
    longest = max((s.success.within for s in rules.segments if s.success), default=timedelta(0))
    rows = conn.execute(
        select(
            stints.c.id,
            stints.c.segment,
            stints.c.contact_id,
            stints.c.held_out,
            stints.c.entered_at,
            stints.c.exited_at,
            stints.c.success_at,
        ).where(
            stints.c.workspace == workspace,
            or_(
                stints.c.exited_at.is_(None),
                and_(stints.c.success_at.is_(None), stints.c.entered_at >= now - longest),
            ),
        )
    ).all()
    open_by_segment: dict[str, dict[int, tuple[int, bool]]] = {}
    for r in rows:
        if r.exited_at is None:
            open_by_segment.setdefault(r.segment, {})[r.contact_id] = (r.id, r.held_out)
    snapshots = []
    for seg in rules.segments:
        now_in = members[seg.key]
        held = segmented.held_out.get(seg.key, set())
        was_in = open_by_segment.pop(seg.key, {})
        entered = now_in - was_in.keys()
        # A contact that meets the goal on the run it enters succeeds at once.
        met = segmented.succeeded.get(seg.key, set()) if seg.success else set()
        exited = [stint for cid, (stint, _) in was_in.items() if cid not in now_in]
        flipped = [
            (stint, cid in held)
            for cid, (stint, was_held) in was_in.items()
            if cid in now_in and (cid in held) != was_held
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
        if seg.holdout:
            _held_out_events(conn, workspace, run_id, seg.key, seg.holdout, entered & held, now)
        for value in (True, False):
            _set(conn, stints, [s for s, h in flipped if h is value], held_out=value)
        moments = segmented.kpis.get(seg.key, {})
        snapshots.append(
            {
                "workspace": workspace,
                "run_id": run_id,
                "at": now,
                "segment": seg.key,
                "size": len(now_in),
                "entered": len(entered),
                "exited": len(exited),
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
    # Stays in segments that no longer exist end now.
    _set(conn, stints, [s for gone in open_by_segment.values() for s, _ in gone.values()],
         exited_at=now)  # fmt: skip
    _successes(conn, workspace, rows, rules, segmented, now)
    _insert(conn, snaps, snapshots)


def _successes(
    conn: Connection,
    workspace: str,
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
