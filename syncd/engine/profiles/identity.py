"""Identity: one profile per person across HubSpot and Mailchimp, keyed by normalised email.

Pure functions, no I/O. The contract the engine relies on:

1. `normalise_email(raw)` trims and lower-cases; an address that is missing or not shaped like
   `local@domain.tld` gives None (the record is recorded as rejected, never a crash).
2. `resolve(source, source_id, email, holder=..., owner=...)` decides what one incoming record
   does, given the two profiles the caller looked up in its store:
   - `holder`: the profile that already holds this source's id (e.g. the HubSpot record id);
   - `owner`: the profile that already has the normalised address.
   The answer is one of `create`, `update`, `move` (same record, new address: the profile
   follows the record instead of a duplicate being made; when another profile already has the
   new address, the record's source moves over to it and leaves `holder`), `duplicate`
   (the address belongs to a different record of the same source; reported, not merged) or
   `reject` (bad address).
3. `merge_fields(per_source, prefer)` builds the canonical view field by field: the preferred
   source wins when it has a value (not None, not ""), otherwise the other source's value.
4. `duplicate_emails(records)` reports addresses used by more than one record of one source.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SOURCES = ("hubspot", "mailchimp")
DEFAULT_PREFER = "hubspot"  # the system of record, as `mappings/fields.yaml` says
MAX_EMAIL = 254  # RFC 5321 path limit
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$"
)


def normalise_email(raw: str | None) -> str | None:
    """`raw` trimmed and lower-cased, or None when it is missing or not a plausible address."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        return None
    local = email.split("@", 1)[0]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    return email


def email_problem(raw: str | None) -> str | None:
    """Why `raw` is not usable (`missing`, `invalid`), or None when it is."""
    if raw is None or not str(raw).strip():
        return "missing"
    return None if normalise_email(raw) is not None else "invalid"


def merge_fields(
    per_source: Mapping[str, Mapping[str, Any] | None],
    prefer: Mapping[str, str] | None = None,
    *,
    default: str = DEFAULT_PREFER,
) -> dict[str, Any]:
    """One canonical dict from each source's canonical fields.

    Args:
        per_source: `source -> {field: value}` (a source may be missing or None).
        prefer: `field -> source` from `fields.yaml`; fields not listed use `default`.
        default: The source preferred when a field names none.
    """
    prefer = prefer or {}
    names: dict[str, None] = {}
    for values in per_source.values():
        names.update(dict.fromkeys(values or {}))
    out: dict[str, Any] = {}
    for name in names:
        first = prefer.get(name, default)
        order = [first, *(s for s in per_source if s != first)]
        for src in order:
            value = (per_source.get(src) or {}).get(name)
            if value is not None and value != "":
                out[name] = value
                break
    return out


@dataclass
class Profile:
    """One person: the address, each source's record id, and each source's fields."""

    email: str
    ids: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merged(self, prefer: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The canonical view (see `merge_fields`), with `email` set to the profile's."""
        out = merge_fields(self.sources, prefer)
        out["email"] = self.email
        return out


class Decision(enum.StrEnum):
    """What one incoming record does to the profiles."""

    CREATE = "create"
    UPDATE = "update"
    MOVE = "move"
    DUPLICATE = "duplicate"
    REJECT = "reject"


@dataclass
class Resolution:
    """The outcome of `resolve`.

    Attributes:
        decision: What happened.
        profile: The profile that now holds the record (new or updated copy); None for
            `duplicate` and `reject`.
        detached: For a `move` onto another profile: the old holder without this source
            (the caller deletes it when it has no source left).
        reason: Why a record was rejected or reported as a duplicate.
    """

    decision: Decision
    profile: Profile | None = None
    detached: Profile | None = None
    reason: str | None = None


def resolve(
    source: str,
    source_id: str,
    raw_email: str | None,
    fields: Mapping[str, Any],
    *,
    holder: Profile | None,
    owner: Profile | None,
) -> Resolution:
    """Place one source record among the profiles (see the module docstring for the contract).

    Inputs are never modified; changed profiles come back as copies.
    """
    email = normalise_email(raw_email)
    if email is None:
        return Resolution(Decision.REJECT, reason=f"{email_problem(raw_email)} email address")
    if owner is not None and holder is not None and owner is holder:
        owner = holder
    if holder is not None and holder.email == email:
        return Resolution(Decision.UPDATE, _with(holder, source, source_id, fields))
    if owner is not None and owner.ids.get(source) not in (None, source_id):
        return Resolution(
            Decision.DUPLICATE, reason=f"another {source} record already has this email address"
        )
    if holder is not None and owner is None:
        moved = _with(holder, source, source_id, fields)
        moved.email = email
        return Resolution(Decision.MOVE, moved)
    if holder is not None and owner is not None:
        left = Profile(holder.email, dict(holder.ids), dict(holder.sources))
        left.ids.pop(source, None)
        left.sources.pop(source, None)
        return Resolution(Decision.MOVE, _with(owner, source, source_id, fields), detached=left)
    if owner is not None:
        return Resolution(Decision.UPDATE, _with(owner, source, source_id, fields))
    return Resolution(Decision.CREATE, Profile(email, {source: source_id}, {source: dict(fields)}))


def _with(p: Profile, source: str, source_id: str, fields: Mapping[str, Any]) -> Profile:
    out = Profile(p.email, dict(p.ids), dict(p.sources))
    out.ids[source] = source_id
    out.sources[source] = dict(fields)
    return out


@dataclass(frozen=True)
class DuplicateEmail:
    """An address that more than one record of one source uses."""

    email: str
    source: str
    source_ids: tuple[str, ...]


def duplicate_emails(records: Iterable[tuple[str, str, str | None]]) -> list[DuplicateEmail]:
    """Addresses shared by records of one source, from `(source, source_id, raw_email)`."""
    seen: dict[tuple[str, str], list[str]] = {}
    for source, source_id, raw in records:
        email = normalise_email(raw)
        if email is None:
            continue
        ids = seen.setdefault((source, email), [])
        if source_id not in ids:
            ids.append(source_id)
    return [
        DuplicateEmail(email, source, tuple(ids))
        for (source, email), ids in sorted(seen.items())
        if len(ids) > 1
    ]
