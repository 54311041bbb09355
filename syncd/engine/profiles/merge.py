"""Merging one page of source records into the contact store.

Profiles keep each source's fields apart (`attributes = {"hubspot": {...}, "mailchimp":
{...}}`), so an update from one source never erases the other's values. Where each record
goes (new profile, update, address change, link, rejection) is decided by `identity.resolve`
from the records' ids; this module only loads the candidate profiles and writes the result.
Addresses are not unique in the store, so a reused or case-variant address never fails a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from connectors.base import SourceRecord
from syncd.engine.closing import close_memberships
from syncd.engine.profiles.folding import fold_history
from syncd.engine.profiles.identity import (
    Decision,
    Profile,
    Resolution,
    email_problem,
    fold,
    normalise_email,
    resolve,
)
from syncd.engine.profiles.read import STATUS_KEY, TAGS_KEY
from syncd.engine.profiles.seen import SeenIds
from syncd.errors import InternalError
from syncd.events import Event
from syncd.failures import Reason
from syncd.logs import get_logger
from syncd.store.models import AuditEvent, Contact
from syncd.store.types import table_of
from syncd.targets import TargetKind

log = get_logger(__name__)


@dataclass
class PullFigures:
    """What one connector's pull stored."""

    records: int = 0
    created: int = 0
    updated: int = 0
    #: Records read again with nothing new for their profile (not written).
    unchanged: int = 0
    moved: int = 0
    linked: int = 0
    folded: int = 0
    rejected: int = 0
    departed: int = 0
    pages: int = 0
    #: Every record id this pull saw (a full pull sweeps the ones it did not).
    seen: SeenIds = field(default_factory=SeenIds)


_ID_COLUMN = {"hubspot": "hubspot_id", "mailchimp": "mailchimp_id"}
#: Record ids per `IN (...)` lookup: under SQLite's 32,766-variable limit with room to spare.
_LOOKUP_CHUNK = 5000
_OTHER = {"hubspot": "mailchimp", "mailchimp": "hubspot"}
#: A profile in a page being merged: its row id, or ("new", source id) before it is inserted.
Key = int | tuple[str, str]
ARCHIVED = "archived"


@dataclass
class _Candidates:
    """The stored profiles one page's records may land on, and how to find them."""

    source: str
    profiles: dict[Key, Profile] = field(default_factory=dict)
    by_id: dict[str, Key] = field(default_factory=dict)
    by_key: dict[str, Key] = field(default_factory=dict)
    #: Profiles without a record of `source`, by the other source's address (lowest id first).
    partners: dict[str, list[Key]] = field(default_factory=dict)
    partner_at: dict[Key, str] = field(default_factory=dict)

    def put(self, key: Key, p: Profile) -> None:
        old = self.profiles.get(key)
        if old is not None and old.ids.get(self.source) not in (None, p.ids.get(self.source)):
            self.by_id.pop(old.ids[self.source], None)
        self.profiles[key] = p
        if self.source in p.ids:
            self.by_id[p.ids[self.source]] = key
            address = self.partner_at.pop(key, None)
            if address is not None:
                self.partners[address].remove(key)
        if self.source in p.keys:
            self.by_key[p.keys[self.source]] = key

    def partner(self, email: str | None) -> Key | None:
        keys = self.partners.get(email or "")
        return keys[0] if keys else None


def merge_page(
    conn: Connection,
    workspace: str,
    source: str,
    records: Sequence[SourceRecord],
    run_id: int | None,
    figures: PullFigures,
    now: datetime,
) -> None:
    """Place each record with `identity.resolve`, then write the changed profiles.

    A HubSpot record that absorbed others (`merged_ids`) folds their profiles into its own; a
    Mailchimp member seen archived has its tags' ledger rows closed (nothing is written to it).
    """
    latest: dict[str, SourceRecord] = {}
    for rec in records:  # a later record of the same page wins over an earlier one
        figures.records += 1
        latest[rec.source_id] = rec
        figures.seen.add(rec.source_id)
    cands = _load(conn, workspace, source, latest)
    changed: dict[Key, None] = {}  # in the order met, so new rows get ids in page order
    folds: list[tuple[Key, Key, bool]] = []  # (loser, winner, the loser's member moved)
    archived: set[Key] = set()
    rejects = []
    reshuffle = False  # whether record ids move between stored rows in this page
    for source_id, rec in latest.items():
        fields = _fields(source, rec)
        holder_key = cands.by_id.get(source_id)
        if holder_key is None and rec.key:
            holder_key = cands.by_key.get(rec.key)
            reshuffle |= holder_key is not None  # the member's new hash may be another's old
        if holder_key is None and rec.merged_ids:
            # HubSpot gives a merged record a new id: the oldest profile of its parts holds it.
            parts = [k for i in rec.merged_ids if isinstance(k := cands.by_id.get(str(i)), int)]
            holder_key = min(parts, default=None)
        partner_key = None if holder_key is not None else cands.partner(normalise_email(rec.email))
        holder = cands.profiles[holder_key] if holder_key is not None else None
        partner = cands.profiles[partner_key] if partner_key is not None else None
        res = resolve(
            source, source_id, rec.email, fields, holder=holder, partner=partner, key=rec.key
        )
        if res.decision is Decision.REJECT or res.profile is None:
            why, message = _refusal(rec.email)
            figures.rejected += 1
            rejects.append(_reject_event(workspace, run_id, source, rec, why, message, now))
            continue
        if _nothing_new(res, holder, rec):
            figures.unchanged += 1
            continue
        key: Key = ("new", source_id)
        if res.decision is not Decision.CREATE:
            found = holder_key if holder_key is not None else partner_key
            assert found is not None
            key = found
        _count(res.decision, figures)
        cands.put(key, res.profile)
        changed[key] = None
        if rec.status == ARCHIVED:
            archived.add(key)
        folds += _fold_merged(cands, key, rec.merged_ids, changed, figures)
    reshuffle |= bool(folds)
    row_id = write_profiles(conn, workspace, cands.profiles, changed, now, reshuffle=reshuffle)
    for loser, winner, moved in folds:
        fold_history(conn, workspace, row_id[loser], row_id[winner], moved, run_id, now)
    if archived:
        close_memberships(
            conn,
            workspace,
            contact_ids=[row_id[k] for k in archived],
            kinds=(TargetKind.MAILCHIMP_TAG,),
            reason="member archived in Mailchimp; nothing is written to it",
            code=Reason.MEMBER_ARCHIVED,
            run_id=run_id,
            now=now,
        )
    if rejects:
        conn.execute(table_of(AuditEvent).insert(), rejects)
        log.warning(Event.PULL_REJECTED, source=source, count=len(rejects))


_COUNTER = {
    Decision.CREATE: "created",
    Decision.MOVE: "moved",
    Decision.LINK: "linked",
    Decision.UPDATE: "updated",
}


def _fields(source: str, rec: SourceRecord) -> dict[str, Any]:
    """The record's fields as stored; a Mailchimp member's status and tags among them."""
    fields = dict(rec.fields)
    if source == "mailchimp":
        fields[STATUS_KEY] = rec.status
        fields[TAGS_KEY] = list(rec.tags)
    return fields


def _nothing_new(res: Resolution, holder: Profile | None, rec: SourceRecord) -> bool:
    """Whether a record only repeats its stored profile (syncd's own echo, an overlap read).

    Such a record is not written, so the row's `updated_at` keeps saying when the person last
    changed. Merges and archived members always take their path.
    """
    return (
        res.decision is Decision.UPDATE
        and res.profile == holder
        and not rec.merged_ids
        and rec.status != ARCHIVED
    )


def _count(decision: Decision, figures: PullFigures) -> None:
    name = _COUNTER[decision]
    setattr(figures, name, getattr(figures, name) + 1)


def _fold_merged(
    cands: _Candidates,
    key: Key,
    merged_ids: Sequence[str],
    changed: dict[Key, None],
    figures: PullFigures,
) -> list[tuple[Key, Key, bool]]:
    """Fold the profiles of records merged into `key`'s; `(loser, winner, member moved)`."""
    source = cands.source
    out = []
    for merged in merged_ids:
        loser_key = cands.by_id.get(str(merged))
        if loser_key is None or loser_key == key:
            continue
        before = cands.profiles[loser_key]
        won, lost = fold(cands.profiles[key], before, source)
        cands.by_id.pop(str(merged), None)
        cands.put(loser_key, lost)
        cands.put(key, won)
        changed[loser_key] = None
        moved = _OTHER[source] in before.ids and _OTHER[source] not in lost.ids
        out.append((loser_key, key, moved))
        figures.folded += 1
    return out


COLUMNS = ("id", "email", "hubspot_id", "mailchimp_id", "mailchimp_email", "mailchimp_key")


def profile_of(row: Any) -> Profile:
    """A stored row (with the `COLUMNS` and `attributes`) as an identity `Profile`."""
    ids = {"hubspot": row.hubspot_id, "mailchimp": row.mailchimp_id}
    emails = {"hubspot": row.email if row.hubspot_id else None, "mailchimp": row.mailchimp_email}
    return Profile(
        row.email,
        {k: v for k, v in ids.items() if v},
        dict(row.attributes or {}),
        {k: v for k, v in emails.items() if v},
        {"mailchimp": row.mailchimp_key} if row.mailchimp_key else {},
    )


def _load(
    conn: Connection, workspace: str, source: str, latest: Mapping[str, SourceRecord]
) -> _Candidates:
    """The stored profiles a page's records may land on: by id, by key, by partner address."""
    out = _Candidates(source)
    if not latest:
        return out
    c = table_of(Contact).c
    emails = list({e for r in latest.values() if (e := normalise_email(r.email)) is not None})
    keys = [r.key for r in latest.values() if r.key]
    merged = [str(m) for r in latest.values() for m in r.merged_ids]
    own = c[_ID_COLUMN[source]]
    if source == "hubspot":
        partner = c.mailchimp_email.in_(emails) & c.hubspot_id.is_(None)
        partner = partner & c.mailchimp_id.is_not(None)
    else:
        partner = c.email.in_(emails) & c.mailchimp_id.is_(None) & c.hubspot_id.is_not(None)
    conds = [own.in_(list(latest) + merged), partner]
    if keys:
        conds.append(c.mailchimp_key.in_(keys))
    # One query per way of finding a profile, each on its own (workspace, column) index: an
    # OR of them makes SQLite scan the table.
    rows: dict[int, Any] = {}
    for cond in conds:
        query = select(*(c[n] for n in COLUMNS), c.attributes).where(c.workspace == workspace, cond)
        rows.update((row.id, row) for row in conn.execute(query))
    for _, row in sorted(rows.items()):
        p = profile_of(row)
        out.profiles[row.id] = p
        if source in p.ids:
            out.by_id[p.ids[source]] = row.id
        if source in p.keys:
            out.by_key.setdefault(p.keys[source], row.id)
        other = _OTHER[source]
        if source not in p.ids and other in p.ids and p.emails.get(other):
            out.partners.setdefault(p.emails[other], []).append(row.id)
            out.partner_at[row.id] = p.emails[other]
    return out


def _row(workspace: str, p: Profile) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "email": p.email,
        "hubspot_id": p.ids.get("hubspot"),
        "mailchimp_id": p.ids.get("mailchimp"),
        "mailchimp_email": p.emails.get("mailchimp") if "mailchimp" in p.ids else None,
        "mailchimp_key": p.keys.get("mailchimp"),
        "attributes": p.sources,
    }


def write_profiles(
    conn: Connection,
    workspace: str,
    profiles: Mapping[Key, Profile],
    changed: Mapping[Key, None],
    now: datetime,
    *,
    reshuffle: bool = True,
) -> dict[Key, int]:
    """Update changed profiles, insert new ones; returns each key's row id.

    Record ids may move between changed rows (a member taken over by a merge, a member found
    by its key), so with `reshuffle` the changed rows give up their ids first and take the final
    ones back in one statement; without it every row keeps or loses its own ids only.
    """
    table = table_of(Contact)
    c = table.c
    existing = sorted(k for k in changed if isinstance(k, int))
    if existing and reshuffle:
        conn.execute(
            table.update().where(c.id.in_(existing)).values(hubspot_id=None, mailchimp_id=None)
        )
    if existing:
        conn.execute(
            table.update()
            .where(c.id == bindparam("_id"))
            .values(
                email=bindparam("_email"),
                hubspot_id=bindparam("_hubspot_id"),
                mailchimp_id=bindparam("_mailchimp_id"),
                mailchimp_email=bindparam("_mailchimp_email"),
                mailchimp_key=bindparam("_mailchimp_key"),
                attributes=bindparam("_attributes"),
                updated_at=now,
            ),
            [
                {f"_{k}": v for k, v in _row(workspace, profiles[key]).items()} | {"_id": key}
                for key in existing
            ],
        )
    row_id: dict[Key, int] = {k: k for k in existing}
    fresh = [k for k in changed if not isinstance(k, int)]
    if fresh:
        rows = [
            _row(workspace, profiles[k]) | {"created_at": now, "updated_at": now} for k in fresh
        ]
        conn.execute(table.insert(), rows)
        row_id.update(_new_row_ids(conn, workspace, {k: profiles[k] for k in fresh}))
    return row_id


def _new_row_ids(conn: Connection, workspace: str, fresh: Mapping[Key, Profile]) -> dict[Key, int]:
    """The row ids just given to `fresh` profiles, found again by their record ids.

    Inserted as one executemany without RETURNING: on SQLite, RETURNING in parameter order
    costs one statement per row (a first pull of 100k contacts sent 110k statements). Every
    new profile holds the record it was made from, and record ids are unique per workspace.
    """
    c = table_of(Contact).c
    out: dict[Key, int] = {}
    for source, column in _ID_COLUMN.items():
        wanted = {p.ids[source]: k for k, p in fresh.items() if source in p.ids and k not in out}
        ids = list(wanted)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            part = ids[start : start + _LOOKUP_CHUNK]
            rows = conn.execute(
                select(c.id, c[column]).where(c.workspace == workspace, c[column].in_(part))
            )
            out.update((wanted[record_id], row_id) for row_id, record_id in rows)
    missing = [k for k in fresh if k not in out]
    if missing:
        raise InternalError(f"{len(missing)} new profiles not found by their record ids")
    return out


def _refusal(email: str | None) -> tuple[Reason, str]:
    """Why a record was not merged: its reason code and the message stored with it."""
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
