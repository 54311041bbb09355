"""Departures: records a complete full pull no longer saw have left their system.

HubSpot's contact listing leaves out deleted, archived and GDPR-deleted contacts, and the ids
merged into another record (those are folded when the surviving record is read); Mailchimp's
member listing leaves out members deleted permanently (an archived member is still listed, with
status `archived`). So once a full pull has read every page, a stored id it did not see is gone:
the profile leaves that system (`identity.leave`), its memberships there are closed with the
reason (`syncd.engine.closing`), and what remains (the other system's record, or only the
history) stays. Segments are computed afterwards from what is left, so a Mailchimp tag that
depended on HubSpot data is removed by the plan like any other change.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, select

from syncd.engine.closing import close_memberships
from syncd.engine.profiles.identity import Profile, leave
from syncd.engine.profiles.merge import COLUMNS, Key, profile_of, write_profiles
from syncd.engine.profiles.seen import SeenIds
from syncd.events import Event
from syncd.failures import Reason
from syncd.logs import get_logger
from syncd.store.models import Contact
from syncd.store.types import table_of
from syncd.targets import TargetKind

log = get_logger(__name__)
_CHUNK = 2000
_ID_COLUMN = {"hubspot": "hubspot_id", "mailchimp": "mailchimp_id"}
_WHY = {
    "hubspot": (
        TargetKind.HUBSPOT_LIST,
        Reason.CONTACT_GONE,
        "contact deleted, archived or GDPR-deleted in HubSpot; the membership ended with it",
    ),
    "mailchimp": (
        TargetKind.MAILCHIMP_TAG,
        Reason.MEMBER_GONE,
        "member permanently deleted from the Mailchimp audience; the tag ended with it",
    ),
}


def unseen_ids(conn: Connection, workspace: str, source: str, seen: SeenIds) -> list[str]:
    """Stored ids of `source` that are not in `seen`."""
    col = table_of(Contact).c[_ID_COLUMN[source]]
    rows = conn.execute(
        select(col).where(table_of(Contact).c.workspace == workspace, col.is_not(None))
    )
    return seen.missing(list(rows.scalars()))


def depart(
    conn: Connection,
    workspace: str,
    source: str,
    source_ids: Collection[str],
    run_id: int | None,
    now: datetime,
) -> int:
    """Take the records `source_ids` of `source` away from their profiles; returns how many."""
    c = table_of(Contact).c
    kind, code, reason = _WHY[source]
    ids = list(source_ids)
    done = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(
            select(*(c[n] for n in COLUMNS), c.attributes).where(
                c.workspace == workspace, c[_ID_COLUMN[source]].in_(chunk)
            )
        ).all()
        if not rows:
            continue
        # Close while the rows still carry the ids the audit events name.
        close_memberships(
            conn,
            workspace,
            contact_ids=[r.id for r in rows],
            kinds=(kind,),
            reason=reason,
            code=code,
            run_id=run_id,
            now=now,
        )
        left: dict[Key, Profile] = {r.id: leave(profile_of(r), source) for r in rows}
        write_profiles(conn, workspace, left, dict.fromkeys(left), now, reshuffle=False)
        done += len(rows)
    if done:
        log.info(Event.PULL_DEPARTED, source=source, count=done)
    return done
