"""The sandbox's in-memory world: HubSpot objects and lists, the Mailchimp audience, one lock.

Handlers take `State.lock` for the whole of a request's read or write, which keeps every
response consistent; responses are encoded after the lock is released.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_DAYS: dict[int, str] = {}
_SECS: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """Epoch milliseconds → HubSpot's `2025-03-04T10:11:12.345Z` (day strings cached: fast)."""
    day, rest = divmod(ms, 86_400_000)
    d = _DAYS.get(day)
    if d is None:
        d = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    s, r = divmod(rest, 1000)
    t = _SECS.get(s)
    if t is None:
        h, m = divmod(s, 3600)
        m, sec = divmod(m, 60)
        t = _SECS[s] = f"T{h:02d}:{m:02d}:{sec:02d}."
    return f"{d}{t}{r:03d}Z"


def iso_date(ms: int) -> str:
    """Epoch milliseconds → `2025-03-04` (HubSpot date properties)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def iso_s(ms: int) -> str:
    """Epoch milliseconds → Mailchimp's `2025-03-04T10:11:12+00:00`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms // 1000))


def parse_time_ms(value: str) -> int | None:
    """Epoch milliseconds from epoch-ms digits, an ISO date-time or an ISO date; None if neither."""
    v = value.strip()
    if not v:
        return None
    if v.lstrip("-").isdigit():
        return int(v)
    try:
        dt = datetime.fromisoformat(v.replace(" ", "+") if "T" in v else v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - vendor's id scheme


class Clock:
    """Wall-clock milliseconds starting at `now`, moving with real time, never going back.

    Writes in the same millisecond share a timestamp, as a HubSpot batch update does; a
    strictly increasing counter would run ahead of the wall clock during bulk writes and
    hide records from a "changed up to now" search.
    """

    def __init__(self, now: datetime | None = None) -> None:
        base = now if now is not None else datetime.now(UTC)
        if base.tzinfo is None:
            base = base.replace(tzinfo=UTC)
        self.base_ms = int(base.timestamp() * 1000)
        self._start = time.monotonic()
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The sandbox's current time."""
        return self.base_ms + int((time.monotonic() - self._start) * 1000)

    def write_ms(self) -> int:
        """A timestamp for a write: now, and never earlier than an earlier write."""
        with self._lock:
            t = max(self.now_ms(), self._last)
            self._last = t
            return t


@dataclass
class HsObject:
    """One HubSpot CRM record; `props` holds only values that are set, all as strings."""

    id: int
    props: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
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
class State:
    """Everything the two emulated services hold."""

    seed: int
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
    next_contact_id: int = 1
    next_list_id: int = 1
    audience_id: str = ""
    audience_name: str = "Sandbox Newsletter"
    audience_created_ms: int = 0
    members: dict[str, McMember] = field(default_factory=dict)  # hash → member, insertion order
    segments: dict[int, McSegment] = field(default_factory=dict)
    next_segment_id: int = 1
    version: int = 0  # bumped by every HubSpot contact write; keys the search cache
    search_cache: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    members_version: int = 0  # bumped when a member is added or its status/last_changed moves
    members_cache: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def contact_by_email(self, email: str) -> HsObject | None:
        """The contact with this address (case and padding ignored), if any."""
        cid = self.email_index.get(email.strip().lower())
        return self.contacts.get(cid) if cid is not None else None

    def segment_by_name(self, name: str) -> McSegment | None:
        """A segment by exact name."""
        for seg in self.segments.values():
            if seg.name == name:
                return seg
        return None

    def segment_member_count(self, seg_id: int) -> int:
        """How many members carry this tag."""
        return sum(1 for m in self.members.values() if seg_id in m.tags)
