"""What the emulated Mailchimp account holds.

One audience, its members and its segments (tags are static segments).

Handlers read and write it under the sandbox's one state lock, which the server takes for the
whole of a request, so every response is consistent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from syncd.sandbox.core.clock import Clock


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - vendor's id scheme


@dataclass
class McMember:
    """One Mailchimp audience member (fields the sandbox models)."""

    email: str
    status: str
    merge_fields: dict[str, Any]
    avg_open_rate: float
    avg_click_rate: float
    member_rating: int
    country_code: str
    timezone: str
    region: str
    language: str
    signup_ms: int
    opt_ms: int
    last_changed_ms: int
    unique_email_id: str
    contact_id: str
    web_id: int
    vip: bool = False
    source: str = "Import"
    prior_status: str | None = None
    # segment id → time added (ms)
    tags: dict[int, int] = field(default_factory=dict)


@dataclass
class McSegment:
    """A Mailchimp segment; static segments are tags."""

    id: int
    name: str
    type: str
    created_ms: int
    updated_ms: int


@dataclass
class MailchimpState:
    """The audience, its members (by subscriber hash) and its segments."""

    seed: int  # seeds the per-member activity history
    clock: Clock
    audience_id: str = ""
    audience_name: str = "Sandbox Newsletter"
    audience_created_ms: int = 0
    members: dict[str, McMember] = field(default_factory=dict)  # hash → member, insertion order
    segments: dict[int, McSegment] = field(default_factory=dict)
    next_segment_id: int = 1
    # Addresses permanently deleted: the API may not add them again (only the person may).
    forgotten: set[str] = field(default_factory=set)
    members_version: int = 0  # bumped when a member is added or its status/last_changed moves
    members_cache: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)

    def by_contact_id(self, contact_id: str) -> str | None:
        """The subscriber hash of the member with this `contact_id`, if any."""
        for h, m in self.members.items():
            if m.contact_id == contact_id:
                return h
        return None

    def segment_by_name(self, name: str) -> McSegment | None:
        """A segment by exact name."""
        for seg in self.segments.values():
            if seg.name == name:
                return seg
        return None

    def segment_member_count(self, seg_id: int) -> int:
        """How many members carry this tag."""
        return sum(1 for m in self.members.values() if seg_id in m.tags)
