"""The connector protocol: what the engine may ask of HubSpot and Mailchimp, and nothing more.

A connector streams source records in pages, each with the cursor that is safe to persist once
that page is stored; it finds or creates the lists and tags syncd owns; it reads and writes
their memberships with an outcome per member. Connectors are given plain values (URLs, tokens,
`RetrySettings`, a `FieldMap`) and import nothing from the engine, the store or the rules.

Cursors are opaque strings to the engine. Records carry canonical field names: the connector
maps source fields through the `FieldMap` the engine builds from `mappings/fields.yaml`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from syncd.failures import Reason
from syncd.http import ApiStats
from syncd.targets import TargetKind


@dataclass(frozen=True, slots=True)
class FieldSource:
    """One canonical field as one system provides it.

    Attributes:
        field: Canonical name (`lifecycle_stage`).
        path: HubSpot: a contact property (`lifecyclestage`), `deals.won_count`,
            `deals.won_amount`, `deals.open_count`, `deals.open_amount`, or
            `company.<property>` of the primary company. Mailchimp: a dotted path into the
            member (`stats.avg_open_rate`, `merge_fields.FNAME`).
    """

    field: str
    path: str


@dataclass(frozen=True)
class FieldMap:
    """Which source fields each connector reads, and the canonical names it reports them under.

    Build it from `mappings/fields.yaml` with `FieldMap.from_paths`.
    """

    hubspot: tuple[FieldSource, ...] = ()
    mailchimp: tuple[FieldSource, ...] = ()

    @classmethod
    def from_paths(
        cls,
        hubspot: Mapping[str, str] | None = None,
        mailchimp: Mapping[str, str] | None = None,
    ) -> FieldMap:
        """From `canonical -> source path` mappings, one per system."""
        return cls(
            tuple(FieldSource(k, v) for k, v in (hubspot or {}).items()),
            tuple(FieldSource(k, v) for k, v in (mailchimp or {}).items()),
        )


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One contact as one system has it.

    Attributes:
        source: `hubspot` or `mailchimp`.
        source_id: HubSpot record id, or Mailchimp subscriber hash.
        email: The address exactly as the vendor has it; the engine normalises it.
        fields: Canonical name -> raw value (HubSpot strings, Mailchimp JSON values, numbers
            for deal aggregates); a field the source has no value for is absent or None.
        status: Mailchimp member status (`subscribed`, `unsubscribed`, ...); None for HubSpot.
        tags: Mailchimp tag names (up to the 50 the member list returns); empty for HubSpot.
        updated_at: When the source last changed the record, if it says.
        key: An id that survives a change of address (Mailchimp's `contact_id`); None when
            the source has none (a HubSpot record id never changes).
        merged_ids: HubSpot: the ids of records merged into this one (`hs_merged_object_ids`).
    """

    source: str
    source_id: str
    email: str | None
    fields: dict[str, Any]
    status: str | None = None
    tags: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    key: str | None = None
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a pull.

    Attributes:
        records: The page's records.
        cursor: The cursor to persist once `records` are durably stored, in the same
            transaction; None means "leave the stored cursor as it is" (mid full pull).
    """

    records: list[SourceRecord]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Target:
    """A list or tag syncd owns.

    Attributes:
        kind: `hubspot_list` or `mailchimp_tag`.
        key: The segment key.
        name: The remote name (`syncd: <key>` list, `syncd:<key>` tag).
        remote_id: The id stored from an earlier `ensure_target`, if any. Once known, the
            target is found by this id only, never by name.
        recreate: What to do when the known id is gone (a person deleted the list or tag):
            make it again (True), or raise the `target_deleted_kept` error (False).
    """

    kind: TargetKind
    key: str
    name: str
    remote_id: str | None = None
    recreate: bool = True


@dataclass(frozen=True, slots=True)
class Member:
    """One contact to add to or remove from a target.

    Attributes:
        remote_id: HubSpot record id, or Mailchimp subscriber hash.
        email: Required for Mailchimp (segment batch bodies take addresses); unused by HubSpot.
    """

    remote_id: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class PropertyUpdate:
    """Values of syncd's HubSpot contact properties for one record (`""` clears a value)."""

    record_id: str
    properties: dict[str, str]


Outcome = Literal["applied", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    """What the remote said about one member of a write.

    Attributes:
        remote_id: The member (`Member.remote_id` or `PropertyUpdate.record_id`).
        action: `add`, `remove` or `set`.
        outcome: `applied` (the remote is in the desired state, also when it already was),
            `rejected` (refused for this record; do not retry as is) or `retry` (a transient
            failure; try again next run).
        reason: Why it was not applied (`contact_deleted`, `member_compliance`,
            `rate_limited`, ...); None when it was.
        message: The vendor's message, redacted (no emails, no tokens).
    """

    remote_id: str
    action: str
    outcome: Outcome
    reason: Reason | None = None
    message: str | None = None


@dataclass
class ApplyResult:
    """Per-member outcomes of one `apply` or `write_properties` call."""

    outcomes: list[MemberOutcome] = field(default_factory=list)

    def add(self, items: Iterable[MemberOutcome]) -> None:
        """Append outcomes."""
        self.outcomes.extend(items)

    def counts(self) -> dict[str, int]:
        """Outcome -> number of members."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out

    def by_id(self) -> dict[tuple[str, str], MemberOutcome]:
        """`(remote_id, action) -> outcome`."""
        return {(o.remote_id, o.action): o for o in self.outcomes}


class ContactSource(Protocol):
    """The read side the engine pulls contacts from."""

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Stream pages of records changed since `cursor` (all records when `full` or no cursor).

        Pages are fetched lazily; nothing is held beyond a small window of pages.
        """
        ...


@runtime_checkable
class ConfirmsPresence(Protocol):
    """A source whose full pull may miss a contact that exists (one read through search)."""

    def still_present(self, ids: Sequence[str]) -> Iterator[Page]:
        """Pages of the contacts among `ids` (not seen by the last full pull) that exist.

        The engine asks before it treats unseen records as gone.
        """
        ...


class MemberReader(Protocol):
    """Reads who is in an owned list or tag, for drift detection."""

    def read_members(self, remote_id: str) -> Iterator[str]:
        """Every member of a target: HubSpot record ids, Mailchimp subscriber hashes."""
        ...


@runtime_checkable
class Connector(Protocol):
    """The read and membership-write side every connector offers."""

    name: str
    stats: ApiStats

    def check(self) -> None:
        """Cheap auth and health probe. Raises ConfigError with an actionable message."""
        ...

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Stream pages of records changed since `cursor` (all records when `full` or no cursor).

        Pages are fetched lazily; nothing is held beyond a small window of pages.
        """
        ...

    def ensure_target(self, target: Target) -> str:
        """Find or create the list/tag and return its remote id (verifies a known id)."""
        ...

    def read_members(self, remote_id: str) -> Iterator[str]:
        """Every member of a target: HubSpot record ids, Mailchimp subscriber hashes."""
        ...

    def apply(
        self, remote_id: str, adds: Sequence[Member], removes: Sequence[Member]
    ) -> ApplyResult:
        """Add and remove members in the largest batches the API takes; one outcome each."""
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...


class PropertyWriter(Protocol):
    """HubSpot only: syncd's own contact properties (`syncd_segments`, `syncd_journey_stage`)."""

    def ensure_properties(self, segment_keys: Sequence[str], stage_keys: Sequence[str]) -> None:
        """Create the properties if missing and add any missing options."""
        ...

    def write_properties(self, updates: Sequence[PropertyUpdate]) -> ApplyResult:
        """Write values in batches of 100; one outcome per record."""
        ...
