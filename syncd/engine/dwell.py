"""When changes that `min_dwell` defers will happen, for `segments explain`.

The planner defers them (`engine/plan.py`); this reads the same ledger rows for one contact
and says, per target, what waits and until when.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from syncd.engine.plan import SegmentTargets
from syncd.store.models import Membership, MembershipState
from syncd.store.types import table_of


def deferred_for(
    db: Engine,
    workspace: str,
    contact_id: int,
    targets: list[SegmentTargets],
    members: Mapping[str, bool],
    now: datetime,
) -> list[dict[str, Any]]:
    """The changes `min_dwell` holds back for one contact.

    Args:
        db: The store.
        workspace: Whose ledger.
        contact_id: The contact.
        targets: The configured targets with their dwell (`segment_targets`).
        members: Segment key -> whether the contact is a member now.
        now: The clock the next run would use.

    Returns:
        `{"target", "change": "add" | "remove", "until"}` per deferred change.
    """
    dwell: dict[str, tuple[str, timedelta]] = {
        ref.key: (st.key, st.min_dwell) for st in targets for ref in st.refs() if st.min_dwell
    }
    if not dwell:
        return []
    m = table_of(Membership).c
    with db.connect() as conn:
        rows = conn.execute(
            select(m.target, m.state, m.updated_at).where(
                m.workspace == workspace, m.contact_id == contact_id, m.target.in_(list(dwell))
            )
        ).all()
    out = []
    for target, state, since in rows:
        segment, span = dwell[target]
        until = since + span
        if until <= now:
            continue
        member = members.get(segment, False)
        if member and state == MembershipState.REMOVED:
            out.append({"target": target, "change": "add", "until": until.isoformat()})
        elif not member and state == MembershipState.ADDED:
            out.append({"target": target, "change": "remove", "until": until.isoformat()})
    return sorted(out, key=lambda d: d["target"])
