"""Identity: one profile per person across HubSpot and Mailchimp, keyed by the records' ids.

Pure functions, no I/O. Addresses are attributes: a profile is found by its HubSpot record id
or its Mailchimp member (subscriber hash, or the member's `contact_id` once its address
changed); an address only links a new record to a profile of the *other* system that has the
same address. So a changed, reused or case-variant address never fails a merge, never makes a
duplicate profile and never moves one system's record away from the other's.
The contract the engine relies on:

1. `normalise_email(raw)` trims and lower-cases; an address that is missing or not shaped like
   `local@domain.tld` gives None (the record is recorded as rejected, never a crash).
2. `resolve(source, source_id, email, fields, holder=..., partner=...)` decides what one
   incoming record does (`create`, `update`, `move`, `link` or `reject`; see `Resolution`).
   `leave` takes a record away from a profile (deleted in its system); `fold` joins two
   profiles whose HubSpot records were merged.
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
    """One person: each source's record id, address and fields.

    Attributes:
        email: The address shown for the person: HubSpot's while it has the record, else the
            Mailchimp member's (see `display_email`).
        ids: `source -> record id` (HubSpot record id, Mailchimp subscriber hash).
        sources: `source -> canonical fields`.
        emails: `source -> that source's own normalised address`.
        keys: `source -> an id that survives an address change` (Mailchimp `contact_id`).
    """

    email: str
    ids: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def merged(self, prefer: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The canonical view (see `merge_fields`), with `email` set to the profile's."""
        out = merge_fields(self.sources, prefer)
        out["email"] = self.email
        return out

    def copy(self) -> Profile:
        """A copy whose dicts can be changed without touching this one."""
        return Profile(
            self.email, dict(self.ids), dict(self.sources), dict(self.emails), dict(self.keys)
        )

    @property
    def active(self) -> bool:
        """Whether the person is still in some system (else only their history remains)."""
        return bool(self.ids)


def display_email(p: Profile) -> str:
    """The address shown for `p`: the system of record's first, then any other's, then the last."""
    for source in SOURCES:
        if source in p.ids and p.emails.get(source):
            return p.emails[source]
    return p.email


class Decision(enum.StrEnum):
    """What one incoming record does to the profiles."""

    CREATE = "create"
    UPDATE = "update"
    MOVE = "move"
    LINK = "link"
    REJECT = "reject"


@dataclass
class Resolution:
    """The outcome of `resolve`.

    Attributes:
        decision: What happened: `create` (a new person), `update` (the record's profile,
            address unchanged), `move` (the record's profile, whose address in this source
            changed: the profile follows the record), `link` (a profile of the other
            source with the same address gains this record) or `reject`.
        profile: The profile that now holds the record (a changed copy); None for `reject`.
        reason: Why a record was rejected.
    """

    decision: Decision
    profile: Profile | None = None
    reason: str | None = None


def resolve(
    source: str,
    source_id: str,
    raw_email: str | None,
    fields: Mapping[str, Any],
    *,
    holder: Profile | None,
    partner: Profile | None,
    key: str | None = None,
) -> Resolution:
    """Place one source record among the profiles. Inputs are never modified.

    Args:
        source: `hubspot` or `mailchimp`.
        source_id: The record's id in `source`.
        raw_email: The record's address as the vendor has it.
        fields: The record's canonical fields.
        holder: The profile that holds this record already: by its id, or by `key` (a
            Mailchimp member whose address, and so whose subscriber hash, changed).
        partner: A profile without a `source` record whose other source has this address;
            used only when there is no holder.
        key: The record's address-independent id, if the source has one.

    Returns:
        Identity follows the record ids: an address changed in one system never moves the
        other system's record, and an address shared by two records never merges them.
    """
    email = normalise_email(raw_email)
    if email is None:
        return Resolution(Decision.REJECT, reason=f"{email_problem(raw_email)} email address")
    if holder is not None:
        changed = holder.emails.get(source) not in (None, email)
        out = _with(holder, source, source_id, email, fields, key)
        return Resolution(Decision.MOVE if changed else Decision.UPDATE, out)
    if partner is not None and source not in partner.ids:
        return Resolution(Decision.LINK, _with(partner, source, source_id, email, fields, key))
    return Resolution(Decision.CREATE, _with(Profile(email), source, source_id, email, fields, key))


def _with(
    p: Profile,
    source: str,
    source_id: str,
    email: str,
    fields: Mapping[str, Any],
    key: str | None,
) -> Profile:
    out = p.copy()
    out.ids[source] = source_id
    out.sources[source] = dict(fields)
    out.emails[source] = email
    if key:
        out.keys[source] = key
    out.email = display_email(out)
    return out


def leave(p: Profile, source: str) -> Profile:
    """`p` without its `source` record (deleted, archived or merged away in that system)."""
    out = p.copy()
    out.ids.pop(source, None)
    out.sources.pop(source, None)
    out.keys.pop(source, None)
    out.email = display_email(out)
    return out


def fold(winner: Profile, loser: Profile, source: str) -> tuple[Profile, Profile]:
    """Two profiles whose `source` records were merged into `winner`'s, as one.

    The loser leaves `source`; its records in the other systems move to the winner where
    the winner has none (else they stay with the loser, which remains a person of its own).

    Returns:
        `(winner, loser)` as changed copies.
    """
    won, lost = winner.copy(), leave(loser, source)
    for other in [s for s in lost.ids if s not in won.ids]:
        won.ids[other] = lost.ids.pop(other)
        if other in lost.sources:
            won.sources[other] = lost.sources.pop(other)
        if other in lost.emails:
            won.emails[other] = lost.emails[other]
        if other in lost.keys:
            won.keys[other] = lost.keys.pop(other)
    won.email, lost.email = display_email(won), display_email(lost)
    return won, lost


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
