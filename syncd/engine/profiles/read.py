"""Profiles: the merged, canonical view of every stored contact, ready for the rules.

The store keeps each source's canonical fields apart; here they are merged field by field
with the preference of `fields.yaml` (the preferred source wins when it has a value), one
contact at a time, for `explain`, the console and the CLI. The sync reads the same profiles as
typed columns, a batch at a time (`columns.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, Text, cast, or_, select

from syncd.engine.profiles.identity import merge_fields
from syncd.segments import FieldCatalog
from syncd.segments.derived import MAILCHIMP_TAGS
from syncd.store.models import Contact
from syncd.store.types import table_of

#: Reserved keys in a source's stored fields: the Mailchimp status and tags, kept whatever
#: the field mapping says because the consent gate and drift checks need them.
STATUS_KEY = "_status"
TAGS_KEY = "_tags"


@dataclass(frozen=True, slots=True)
class StoredContact:
    """One row of the store, with its merged canonical profile."""

    id: int
    email: str
    hubspot_id: str | None
    mailchimp_id: str | None
    mailchimp_status: str | None
    profile: dict[str, Any]


def preferences(fields: FieldCatalog) -> dict[str, str]:
    """`field -> source` that wins when both have a value (from `fields.yaml`)."""
    return {name: str(d.sources()[0].system) for name, d in fields.items() if d.sources()}


def merge_profile(
    prefer: Mapping[str, str], email: str, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """The canonical profile of one contact from its per-source fields."""
    out = merge_fields(attributes, prefer)
    out.pop(STATUS_KEY, None)
    out.pop(TAGS_KEY, None)
    out["email"] = email
    tags = (attributes.get("mailchimp") or {}).get(TAGS_KEY) or []
    # The built-in `mailchimp_tags` field: a person's own tags, never syncd's.
    out[MAILCHIMP_TAGS] = [t for t in tags if isinstance(t, str) and not t.startswith("syncd:")]
    return out


def contacts_query(workspace: str, *, as_text: bool = False, scan: bool = False) -> Select[Any]:
    """Id, email, both record ids and the attributes of every contact still in a source.

    In id order. With `as_text`, the attributes come as their JSON text, undecoded. With
    `scan` (for SQLite, reading every contact), the table is walked in id order instead of
    looked up by workspace: no index has (workspace, id), so the lookup sorts every row first.
    """
    c = table_of(Contact).c
    attributes = cast(c.attributes, Text) if as_text else c.attributes
    # `workspace || ''` is the same value, but no index serves it.
    ws = c.workspace.concat("") if scan else c.workspace
    return (
        select(c.id, c.email, c.hubspot_id, c.mailchimp_id, attributes)
        .where(
            ws == workspace,
            # A person who left both systems keeps only their history.
            or_(c.hubspot_id.is_not(None), c.mailchimp_id.is_not(None)),
        )
        .order_by(c.id)
    )


def iter_contacts(
    db: Engine, workspace: str, fields: FieldCatalog, *, email: str | None = None
) -> Iterator[StoredContact]:
    """Every contact still in HubSpot or Mailchimp (or those with `email`, in either), merged.

    In id order. `email` matches the profile's address or its Mailchimp member's.
    """
    c = table_of(Contact).c
    query = contacts_query(workspace)
    if email is not None:
        query = query.where(or_(c.email == email, c.mailchimp_email == email))
    prefer = preferences(fields)
    with db.connect() as conn:
        # A statement option, not a connection option: it must not outlive this query.
        result = conn.execute(query.execution_options(yield_per=5000))
        for row in result:
            attrs = row.attributes or {}
            mailchimp = attrs.get("mailchimp") or {}
            yield StoredContact(
                id=row.id,
                email=row.email,
                hubspot_id=row.hubspot_id,
                mailchimp_id=row.mailchimp_id,
                mailchimp_status=mailchimp.get(STATUS_KEY),
                profile=merge_profile(prefer, row.email, attrs),
            )
