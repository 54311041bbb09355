"""What the emulated HubSpot portal holds.

Contacts, companies, deals, their associations, contact property definitions and lists.

Handlers read and write it under the sandbox's one state lock, which the server takes for the
whole of a request, so every response is consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncd.sandbox.core.clock import Clock


@dataclass
class HsObject:
    """One HubSpot CRM record; `props` holds only values that are set, all as strings."""

    id: int
    props: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    # Numeric view of number/date properties, filled lazily by search.
    num_cache: dict[str, float | None] = field(default_factory=dict)


@dataclass
class HsList:
    """A Lists v3 list; `members` maps record id → membership time (ms)."""

    list_id: int
    name: str
    processing_type: str
    object_type_id: str
    created_ms: int
    updated_ms: int
    version: int = 1
    members: dict[int, int] = field(default_factory=dict)


@dataclass
class HubSpotState:
    """The portal's records, property definitions and lists."""

    clock: Clock
    contacts: dict[int, HsObject] = field(default_factory=dict)
    contact_ids: list[int] = field(default_factory=list)  # ascending; the list-cursor order
    email_index: dict[str, int] = field(default_factory=dict)  # normalised email → id
    companies: dict[int, HsObject] = field(default_factory=dict)
    deals: dict[int, HsObject] = field(default_factory=dict)
    contact_companies: dict[int, list[int]] = field(default_factory=dict)
    contact_deals: dict[int, list[int]] = field(default_factory=dict)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[int, HsList] = field(default_factory=dict)
    # Contacts deleted (archived) through the API: readable only with `archived=true`.
    archived_contacts: dict[int, HsObject] = field(default_factory=dict)
    # Ids of contacts merged away → the id of the record they were merged into.
    merged_into: dict[int, int] = field(default_factory=dict)
    # Addresses a GDPR delete blocked from being used again.
    gdpr_blocklist: set[str] = field(default_factory=set)
    next_contact_id: int = 1
    next_list_id: int = 1
    version: int = 0  # bumped by every contact write; keys the search cache
    search_cache: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)

    def live_contact(self, cid: int) -> HsObject | None:
        """The contact a (possibly merged-away) id answers with, unless archived or deleted."""
        seen = 0
        while cid in self.merged_into and seen < 100:  # a merged record may be merged again
            cid, seen = self.merged_into[cid], seen + 1
        return self.contacts.get(cid)

    def contact_by_email(self, email: str) -> HsObject | None:
        """The contact with this address (case and padding ignored), if any."""
        cid = self.email_index.get(email.strip().lower())
        return self.contacts.get(cid) if cid is not None else None
