"""Folding the history of two profiles whose HubSpot records were merged.

HubSpot merges two contacts into one record (with a new id, listing both old ones in
`hs_merged_object_ids`); `merge.merge_page` folds their profiles with `identity.fold`, and this
module moves what the store keeps about the loser to the winner: ledger rows and audit events.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, or_, select

from syncd.events import Event
from syncd.failures import Reason
from syncd.logs import get_logger
from syncd.store.models import AuditEvent, Contact, Membership, MembershipState
from syncd.store.types import table_of
from syncd.targets import TargetKind

log = get_logger(__name__)


def fold_history(
    conn: Connection,
    workspace: str,
    loser: int,
    winner: int,
    member_moved: bool,
    run_id: int | None,
    now: datetime,
) -> None:
    """One history for two profiles whose HubSpot records were merged.

    HubSpot keeps the merged records' list memberships on the merged record, so the loser's
    HubSpot ledger rows move to the winner (where both have one, the one syncd holds as
    `added` stays); when the loser's Mailchimp member moved to the winner, so do its tags'
    rows. Every audit event of the loser is re-pointed to the winner, and one more records
    the merge.
    """
    kinds = [TargetKind.HUBSPOT_LIST, TargetKind.HUBSPOT_PROPERTY]
    if member_moved:
        kinds.append(TargetKind.MAILCHIMP_TAG)
    m = table_of(Membership)
    rows = conn.execute(
        select(m.c.id, m.c.contact_id, m.c.target, m.c.state).where(
            m.c.contact_id.in_((loser, winner)),
            or_(*(m.c.target.like(f"{k}:%") for k in kinds)),
        )
    ).all()
    won = {r.target: r for r in rows if r.contact_id == winner}
    drop, move = [], []
    for r in (r for r in rows if r.contact_id == loser):
        w = won.get(r.target)
        if w is None:
            move.append(r.id)
        elif r.state == MembershipState.ADDED and w.state != MembershipState.ADDED:
            drop.append(w.id)
            move.append(r.id)
        else:
            drop.append(r.id)
    if drop:
        conn.execute(delete(m).where(m.c.id.in_(drop)))
    if move:
        conn.execute(m.update().where(m.c.id.in_(move)).values(contact_id=winner))
    a = table_of(AuditEvent)
    conn.execute(
        a.update()
        .where(a.c.workspace == workspace, a.c.contact_id == loser)
        .values(contact_id=winner)
    )
    ids = conn.execute(
        select(table_of(Contact).c.email, table_of(Contact).c.hubspot_id).where(
            table_of(Contact).c.id == winner
        )
    ).one()
    conn.execute(
        a.insert().values(
            workspace=workspace,
            run_id=run_id,
            at=now,
            contact_id=winner,
            email=ids.email,
            hubspot_id=ids.hubspot_id,
            action="merge",
            reason=f"profile {loser} folded in: its HubSpot record was merged into this one",
            outcome="detected",
            reason_code=Reason.CONTACT_MERGED,
        )
    )
    log.info(Event.CONTACT_MERGED, contact_id=winner, merged_contact_id=loser)
