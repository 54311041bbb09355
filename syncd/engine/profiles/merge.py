"""Merging one page of source records into the contact store.

Profiles keep each source's fields apart (`attributes = {"hubspot": {...}, "mailchimp":
{...}}`), so an update from one source never erases the other's values. Where each record
goes (new profile, update, email change, duplicate, rejection) is decided by
`identity.resolve`; this module only loads the candidate profiles and writes the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, or_, select

from connectors.base import SourceRecord
from syncd.engine.profiles.identity import (
    Decision,
    Profile,
    Resolution,
    email_problem,
    normalise_email,
    resolve,
)
from syncd.engine.profiles.read import STATUS_KEY, TAGS_KEY
from syncd.events import Event
from syncd.failures import Reason
from syncd.logs import get_logger
from syncd.store.models import AuditEvent, Contact, Membership
from syncd.store.types import table_of

log = get_logger(__name__)


@dataclass
class PullFigures:
    """What one connector's pull stored."""

    records: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    rejected: int = 0
    duplicates: int = 0
    pages: int = 0
    contact_ids: set[int] = field(default_factory=set)


_ID_COLUMN = {"hubspot": "hubspot_id", "mailchimp": "mailchimp_id"}
#: A profile in a page being merged: its row id, or ("new", email) before it is inserted.
Key = int | tuple[str, str]


def merge_page(
    conn: Connection,
    workspace: str,
    source: str,
    records: Sequence[SourceRecord],
    run_id: int | None,
    figures: PullFigures,
    now: datetime,
) -> None:
    """Place each record with `identity.resolve`, then write the changed profiles."""
    latest: dict[str, SourceRecord] = {}
    for rec in records:  # a later record of the same page wins over an earlier one
        figures.records += 1
        latest[rec.source_id] = rec
    profiles, by_id, by_email = _candidates(conn, workspace, source, latest)
    changed: set[Key] = set()
    handover: dict[Key, Key] = {}  # old profile -> the one its record moved onto
    rejects = []
    for source_id, rec in latest.items():
        fields = dict(rec.fields)
        if source == "mailchimp":
            fields[STATUS_KEY] = rec.status
            fields[TAGS_KEY] = list(rec.tags)
        holder_key = by_id.get(source_id)
        owner_key = by_email.get(normalise_email(rec.email) or "")
        holder = profiles[holder_key] if holder_key is not None else None
        owner = profiles[owner_key] if owner_key is not None else None
        res = resolve(source, source_id, rec.email, fields, holder=holder, owner=owner)
        if res.decision in (Decision.REJECT, Decision.DUPLICATE) or res.profile is None:
            why, message = _refusal(res, rec.email)
            if why is Reason.DUPLICATE_EMAIL:
                figures.duplicates += 1
            else:
                figures.rejected += 1
            rejects.append(_reject_event(workspace, run_id, source, rec, why, message, now))
            continue
        if res.decision is Decision.CREATE:
            key: Key | None = ("new", res.profile.email)
            figures.created += 1
        elif res.detached is not None:
            # The record moved onto the profile that already had its new address.
            assert holder_key is not None
            profiles[holder_key] = res.detached
            changed.add(holder_key)
            key = owner_key
            if key is not None:
                handover[holder_key] = key
            figures.moved += 1
        elif res.decision is Decision.MOVE:  # same profile, new address
            assert holder_key is not None
            by_email.pop(profiles[holder_key].email, None)
            key = holder_key
            figures.moved += 1
        else:
            same = holder is not None and holder.email == res.profile.email
            key = holder_key if same else owner_key
            figures.updated += 1
        assert key is not None
        profiles[key] = res.profile
        by_email[res.profile.email] = key
        by_id[source_id] = key
        changed.add(key)
    _write_profiles(conn, workspace, source, profiles, changed, handover, figures, now)
    if rejects:
        conn.execute(table_of(AuditEvent).insert(), rejects)
        log.warning(Event.PULL_REJECTED, source=source, count=len(rejects))


def _candidates(
    conn: Connection, workspace: str, source: str, latest: Mapping[str, SourceRecord]
) -> tuple[dict[Key, Profile], dict[str, Key], dict[str, Key]]:
    """The stored profiles a page's records may land on: by this source's id, or by email.

    Returns:
        `(profiles by row id, row id by source id, row id by email)`.
    """
    profiles: dict[Key, Profile] = {}
    by_id: dict[str, Key] = {}
    by_email: dict[str, Key] = {}
    if not latest:
        return profiles, by_id, by_email
    c = table_of(Contact).c
    emails = list({e for r in latest.values() if (e := normalise_email(r.email)) is not None})
    query = select(c.id, c.email, c.hubspot_id, c.mailchimp_id, c.attributes).where(
        c.workspace == workspace,
        or_(c[_ID_COLUMN[source]].in_(list(latest)), c.email.in_(emails)),
    )
    for row in conn.execute(query):
        ids = {"hubspot": row.hubspot_id, "mailchimp": row.mailchimp_id}
        profiles[row.id] = Profile(
            row.email, {k: v for k, v in ids.items() if v}, dict(row.attributes or {})
        )
        by_email[row.email] = row.id
        if ids[source]:
            by_id[ids[source]] = row.id
    return profiles, by_id, by_email


def _write_profiles(
    conn: Connection,
    workspace: str,
    source: str,
    profiles: Mapping[Key, Profile],
    changed: set[Key],
    handover: Mapping[Key, Key],
    figures: PullFigures,
    now: datetime,
) -> None:
    """Insert new profiles, update changed ones, and drop profiles left with no source."""
    table = table_of(Contact)
    c = table.c
    existing = [k for k in changed if isinstance(k, int)]
    if existing:
        # A moved record's source id is freed on its old profile before anyone reuses it.
        conn.execute(table.update().where(c.id.in_(existing)).values({_ID_COLUMN[source]: None}))
    row_id: dict[Key, int] = {k: k for k in existing}
    fresh = [k for k in changed if not isinstance(k, int)]
    if fresh:
        rows = [
            {
                "workspace": workspace,
                "email": profiles[k].email,
                "hubspot_id": profiles[k].ids.get("hubspot"),
                "mailchimp_id": profiles[k].ids.get("mailchimp"),
                "attributes": profiles[k].sources,
                "created_at": now,
                "updated_at": now,
            }
            for k in fresh
        ]
        ids = conn.execute(table.insert().returning(c.id, sort_by_parameter_order=True), rows)
        row_id.update(zip(fresh, ids.scalars(), strict=True))
    kept = [k for k in existing if profiles[k].sources]
    if kept:
        conn.execute(
            table.update()
            .where(c.id == bindparam("_id"))
            .values(
                email=bindparam("_email"),
                hubspot_id=bindparam("_hubspot_id"),
                mailchimp_id=bindparam("_mailchimp_id"),
                attributes=bindparam("_attributes"),
                updated_at=now,
            ),
            [
                {
                    "_id": k,
                    "_email": profiles[k].email,
                    "_hubspot_id": profiles[k].ids.get("hubspot"),
                    "_mailchimp_id": profiles[k].ids.get("mailchimp"),
                    "_attributes": profiles[k].sources,
                }
                for k in kept
            ],
        )
    m = table_of(Membership)
    for old, new in handover.items():
        # Ownership of this source's targets goes with the record to its new profile.
        conn.execute(
            m.update()
            .where(m.c.contact_id == row_id[old], m.c.target.like(f"{source}_%"))
            .values(contact_id=row_id[new])
        )
    gone = [k for k in existing if not profiles[k].sources]
    if gone:
        conn.execute(delete(table).where(c.id.in_(gone)))
    figures.contact_ids.update(row_id[k] for k in changed if k not in gone)


def _refusal(res: Resolution, email: str | None) -> tuple[Reason, str]:
    """Why a record was not merged: its reason code and the message stored with it."""
    if res.decision is Decision.DUPLICATE:
        return Reason.DUPLICATE_EMAIL, f"duplicate email: {res.reason}"
    if email_problem(email) == "missing":
        return Reason.NO_EMAIL, "no email address"
    return Reason.INVALID_EMAIL, "invalid email address"


def _reject_event(
    workspace: str,
    run_id: int | None,
    source: str,
    rec: SourceRecord,
    reason: Reason,
    message: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "run_id": run_id,
        "at": now,
        "contact_id": None,
        "email": (rec.email or "")[:320] or None,
        "hubspot_id": rec.source_id if source == "hubspot" else None,
        "mailchimp_id": rec.source_id if source == "mailchimp" else None,
        "segment": None,
        "target": None,
        "action": "ingest",
        "reason": f"pull from {source}",
        "outcome": "rejected",
        "error_class": "rejected",
        "message": message,
        "reason_code": reason,
    }
