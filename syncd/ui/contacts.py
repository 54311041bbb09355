"""The contacts search: part of an email or a name, matched case-insensitively, paged.

The email is HubSpot's address or the Mailchimp member's own (`mailchimp_email`), so a person
whose addresses differ is found by either.

Names are the canonical `first_name` and `last_name` fields (`mappings/fields.yaml`) as each
source stored them in the contact's attributes; every word of the query must match the email or
one of those names, so "ann smi" finds Ann Smith.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from syncd.store.models import Contact
from syncd.store.types import table_of
from syncd.ui.queries import Context

NAME_FIELDS = ("first_name", "last_name")
SOURCES = ("hubspot", "mailchimp")


@dataclass(frozen=True)
class ContactPage:
    """One page of matches and how many there are in all."""

    rows: list[dict[str, Any]]
    total: int


def _name(source: str, field: str) -> ColumnElement[str]:
    attrs = table_of(Contact).c.attributes
    return func.lower(attrs[(source, field)].as_string())


def _matches(word: str) -> ColumnElement[bool]:
    c = table_of(Contact).c
    found: list[ColumnElement[bool]] = [
        c.email.contains(word, autoescape=True),
        func.coalesce(c.mailchimp_email, "").contains(word, autoescape=True),
    ]
    for source in SOURCES:
        for field in NAME_FIELDS:
            found.append(_name(source, field).contains(word, autoescape=True))
    return or_(*found)


def search_contacts(ctx: Context, query: str, *, limit: int = 50, offset: int = 0) -> ContactPage:
    """Contacts whose email or name contains every word of `query`, by email.

    Returns:
        A page of `{id, email, name, hubspot_id, mailchimp_id, mailchimp_status, updated_at}`
        and the number of matches in all.
    """
    c = table_of(Contact).c
    words = [w for w in query.strip().lower().split() if w][:8]
    where = and_(c.workspace == ctx.workspace, *[_matches(w) for w in words])
    with ctx.db.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(table_of(Contact)).where(where))
                    .scalar_one())  # fmt: skip
        rows = conn.execute(
            select(c.id, c.email, c.hubspot_id, c.mailchimp_id, c.mailchimp_key)
            .add_columns(c.attributes, c.updated_at)
            .where(where)
            .order_by(c.email)
            .limit(limit)
            .offset(offset)
        ).mappings()
        out = [_row(r) for r in rows]
    return ContactPage(out, total)


def display_name(attributes: dict[str, Any] | None) -> str | None:
    """The name as "First Last", from HubSpot if it has one, else from Mailchimp."""
    for source in SOURCES:
        fields = (attributes or {}).get(source) or {}
        parts = [str(fields.get(f)).strip() for f in NAME_FIELDS if fields.get(f)]
        if parts:
            return " ".join(parts)
    return None


def _row(r: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = r["attributes"] or {}
    return {
        "id": r["id"],
        "email": r["email"],
        "name": display_name(attrs),
        "hubspot_id": r["hubspot_id"],
        "mailchimp_id": r["mailchimp_id"],
        "mailchimp_contact_id": r["mailchimp_key"],
        "mailchimp_status": (attrs.get("mailchimp") or {}).get("_status"),
        "updated_at": r["updated_at"].isoformat() if r["updated_at"] else None,
    }
