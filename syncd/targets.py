"""Names of the things syncd writes: lists, tags and contact properties.

A target key is `<kind>:<name>`, for example `hubspot_list:trial-to-paid`,
`mailchimp_tag:trial-to-paid` or `hubspot_property:syncd_segments`. It is what the ledger,
the outbox and the audit log store, so it must never change for an existing segment.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PROP_SEGMENTS = "syncd_segments"
PROP_STAGE = "syncd_journey_stage"
#: Mailchimp statuses that may receive a tag; everyone else is only ever untagged.
CONSENTING_STATUSES = frozenset({"subscribed", "pending", "transactional"})


class TargetKind(enum.StrEnum):
    """Where a membership or value lives."""

    HUBSPOT_LIST = "hubspot_list"
    MAILCHIMP_TAG = "mailchimp_tag"
    HUBSPOT_PROPERTY = "hubspot_property"


@dataclass(frozen=True, order=True)
class TargetRef:
    """One owned target: a segment's list or tag, or one of syncd's HubSpot properties."""

    kind: TargetKind
    name: str

    @property
    def key(self) -> str:
        """The stable key stored in the ledger, outbox and audit log."""
        return f"{self.kind}:{self.name}"

    @property
    def remote_name(self) -> str:
        """The name people see in HubSpot or Mailchimp (namespaced, so ownership is visible)."""
        if self.kind is TargetKind.HUBSPOT_LIST:
            return f"syncd: {self.name}"
        if self.kind is TargetKind.MAILCHIMP_TAG:
            return f"syncd:{self.name}"
        return self.name

    @property
    def api(self) -> str:
        """The connector that owns this target."""
        return "mailchimp" if self.kind is TargetKind.MAILCHIMP_TAG else "hubspot"

    @classmethod
    def parse(cls, key: str) -> TargetRef:
        """Inverse of `key`."""
        kind, _, name = key.partition(":")
        return cls(TargetKind(kind), name)


#: syncd's two HubSpot contact properties travel together, as one target: both are written in
#: the same batch-update call, so a run needs one call per 100 contacts, not two.
PROPERTIES = TargetRef(TargetKind.HUBSPOT_PROPERTY, "syncd")
