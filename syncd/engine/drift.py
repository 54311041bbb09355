"""Reconcile: read what owned lists and tags really hold, and record drift.

A person may add or remove members by hand. syncd does not fight them: a hand-made removal
moves the ledger row to `drift_removed` (re-added only after the contact leaves the segment
and enters it again), and a hand-made addition is recorded and left alone. It runs after the
full pull, whose departures (deleted contacts, archived or deleted members) have closed their
ledger rows already, so a membership that ended with its contact is never taken for a
removal by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from connectors.base import MemberReader
from syncd.engine.deleted_targets import DELETED, DELETED_KEPT, OnDeleted, record_deleted
from syncd.engine.ledger import set_ledger
from syncd.events import Event
from syncd.http import status_of
from syncd.logs import get_logger
from syncd.store.lease import UNFENCED, Fence, fenced
from syncd.store.models import AuditEvent, Contact, Membership, MembershipState, RemoteTarget
from syncd.store.types import table_of
from syncd.targets import TargetKind, TargetRef

log = get_logger(__name__)


def detect_drift(
    db: Engine,
    workspace: str,
    run_id: int,
    readers: Mapping[str, MemberReader],
    *,
    now: datetime,
    fence: Fence = UNFENCED,
    on_deleted: OnDeleted = "recreate",
) -> dict[str, dict[str, int]]:
    """Compare each owned target with the ledger; returns per-target drift counts.

    A target that answers 404 was deleted by a person (`syncd.engine.deleted_targets`).
    Targets already known deleted and left so (`on_deleted_target: stop`) are not read.
    """
    rt, c, m = table_of(RemoteTarget).c, table_of(Contact).c, table_of(Membership).c
    query = select(rt.target, rt.remote_id).where(rt.workspace == workspace)
    if on_deleted == "stop":
        query = query.where(rt.deleted_at.is_(None))
    with db.begin() as conn:
        targets = conn.execute(query).all()
    out: dict[str, dict[str, int]] = {}
    for target, remote_id in targets:
        ref = TargetRef.parse(target)
        reader = readers.get(ref.api)
        if reader is None or ref.kind is TargetKind.HUBSPOT_PROPERTY:
            continue
        try:
            actual = set(reader.read_members(remote_id))
        except Exception as exc:
            if status_of(exc) != 404:
                raise
            # A person deleted the whole list or tag: not a drift of each member, and no
            # reason to stop reconciling the other targets.
            record_deleted(db, workspace, run_id, ref, remote_id, on_deleted, now=now, fence=fence)
            out[target] = {DELETED if on_deleted == "recreate" else DELETED_KEPT: 1}
            continue
        id_col = c.mailchimp_id if ref.kind is TargetKind.MAILCHIMP_TAG else c.hubspot_id
        with fenced(db, fence) as conn:
            rows = conn.execute(
                select(c.id, c.email, c.hubspot_id, c.mailchimp_id, id_col.label("rid"), m.state)
                .join_from(table_of(Contact), table_of(Membership), m.contact_id == c.id)
                .where(m.workspace == workspace, m.target == target)
            ).all()
            owned = {r.rid: r for r in rows if r.state == MembershipState.ADDED}
            known = {r.rid for r in rows}
            removed = [r for rid, r in owned.items() if rid not in actual]
            added_ids = [rid for rid in actual if rid not in known]
            added = (
                conn.execute(
                    select(c.id, c.email, c.hubspot_id, c.mailchimp_id).where(
                        c.workspace == workspace, id_col.in_(added_ids)
                    )
                ).all()
                if added_ids
                else []
            )
            already = _drift_recorded(conn, workspace, ref)
            gone = "removed by hand; not re-added until re-entry"
            events = [_event(workspace, run_id, ref, r, gone, now) for r in removed] + [
                _event(workspace, run_id, ref, r, "added by hand; left alone", now)
                for r in added
                if r.id not in already
            ]
            if removed:
                set_ledger(
                    conn,
                    workspace,
                    [(target, r.id, MembershipState.DRIFT_REMOVED, None) for r in removed],
                    run_id,
                    now=now,
                )
            if events:
                conn.execute(table_of(AuditEvent).insert(), events)
        out[target] = {"removed_by_hand": len(removed), "added_by_hand": len(added_ids)}
        if removed or added_ids:
            log.info(
                Event.DRIFT_DETECTED, target=target, removed=len(removed), added=len(added_ids)
            )
    return out


def _drift_recorded(conn: Connection, workspace: str, ref: TargetRef) -> set[int]:
    a = table_of(AuditEvent).c
    rows = conn.execute(
        select(a.contact_id).where(
            # `segment` leads the (workspace, segment, at) index; `target` narrows it down.
            a.workspace == workspace,
            a.segment == ref.name,
            a.target == ref.key,
            a.action == "drift",
            a.outcome == "detected",
        )
    )
    return {r[0] for r in rows if r[0] is not None}


def _event(
    workspace: str, run_id: int, ref: TargetRef, row: Row[Any], reason: str, now: datetime
) -> dict[str, object]:
    return {
        "workspace": workspace,
        "run_id": run_id,
        "at": now,
        "contact_id": row.id,
        "email": row.email,
        "hubspot_id": row.hubspot_id,
        "mailchimp_id": row.mailchimp_id,
        "segment": ref.name,
        "target": ref.key,
        "action": "drift",
        "reason": reason,
        "outcome": "detected",
        "error_class": None,
        "message": None,
    }
