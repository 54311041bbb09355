"""Ending ledger rows whose membership ended without syncd removing it.

A membership also ends when its contact leaves the system it lives in (deleted, archived,
GDPR-deleted, merged away), when a Mailchimp member is archived or permanently deleted, and when
a person deletes the whole list or tag. Nothing is sent for these: the remote membership is
already gone (or, for an archived member, must not be written). The ledger row moves to
`removed`, so the membership is planned again if the person comes back and still matches, and an
audit event (`action=remove`, `outcome=closed`) says why, with its reason code.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Connection, or_, select, update

from syncd.failures import Reason
from syncd.store.models import AuditEvent, Contact, Membership, MembershipState
from syncd.store.types import table_of
from syncd.targets import TargetKind

#: The audit outcome of a membership that ended without a write.
CLOSED = "closed"
_CHUNK = 2000


def close_memberships(
    conn: Connection,
    workspace: str,
    *,
    contact_ids: Collection[int] | None = None,
    kinds: Iterable[TargetKind] = (TargetKind.HUBSPOT_LIST, TargetKind.MAILCHIMP_TAG),
    target: str | None = None,
    reason: str,
    code: Reason,
    run_id: int | None,
    now: datetime,
) -> int:
    """Move `added` ledger rows to `removed` and record why.

    Rows a person removed by hand (`drift_removed`) stay so: the person's choice outlives the
    contact's, member's or target's absence.

    Args:
        conn: A transaction of the caller (fenced when the caller writes for a run).
        workspace: Whose ledger.
        contact_ids: Only these contacts; None for every contact of `target`.
        kinds: Only targets of these kinds (never syncd's properties: they are values).
        target: Only this target key.
        reason: The audit event's reason (`contact deleted in HubSpot`).
        code: The audit event's reason code.
        run_id: The run that noticed it.
        now: The run's clock.

    Returns:
        How many rows were closed.
    """
    if contact_ids is not None and not contact_ids:
        return 0
    m, c = table_of(Membership).c, table_of(Contact).c
    prefixes = [f"{k}:%" for k in kinds]
    ids = list(contact_ids) if contact_ids is not None else [None]
    closed = 0
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(m.id, m.target, m.contact_id, c.email, c.hubspot_id, c.mailchimp_id)
            .join_from(table_of(Membership), table_of(Contact), m.contact_id == c.id)
            .where(
                m.workspace == workspace,
                m.state == MembershipState.ADDED,
                or_(*(m.target.like(p) for p in prefixes)),
            )
        )
        if contact_ids is not None:
            query = query.where(m.contact_id.in_(ids[start : start + _CHUNK]))
        if target is not None:
            query = query.where(m.target == target)
        rows = conn.execute(query).all()
        if not rows:
            continue
        conn.execute(
            update(table_of(Membership))
            .where(m.id.in_([r.id for r in rows]))
            .values(state=MembershipState.REMOVED, run_id=run_id, updated_at=now)
        )
        events = [
            {
                "workspace": workspace,
                "run_id": run_id,
                "at": now,
                "contact_id": r.contact_id,
                "email": r.email,
                "hubspot_id": r.hubspot_id,
                "mailchimp_id": r.mailchimp_id,
                "segment": r.target.partition(":")[2],
                "target": r.target,
                "action": "remove",
                "reason": reason,
                "outcome": CLOSED,
                "error_class": None,
                "message": None,
                "reason_code": code,
            }
            for r in rows
        ]
        if events:
            conn.execute(table_of(AuditEvent).insert(), events)
        closed += len(rows)
    return closed
