"""Adapters from the connectors' write side to the engine's `Writer`.

The engine speaks in outbox rows and target refs; the connectors speak in `Member`s and
remote ids. These adapters translate, and map each per-member outcome back to its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.base import (
    ApplyResult,
    Connector,
    Member,
    PropertyUpdate,
    PropertyWriter,
    Target,
)
from syncd.engine.ledger import OutboxItem
from syncd.engine.plan import decode_properties
from syncd.engine.tally import ItemOutcome
from syncd.failures import ErrorClass, Reason
from syncd.targets import TargetKind, TargetRef

#: Rows per engine batch (the "batch in flight" a crash may resend), by target kind: the
#: largest each API takes in one call (Mailchimp 500 per array; HubSpot batch update 100;
#: HubSpot list membership has no documented maximum, so 1,000 per call).
BATCH_SIZES = {
    TargetKind.MAILCHIMP_TAG: 500,
    TargetKind.HUBSPOT_LIST: 1000,
    TargetKind.HUBSPOT_PROPERTY: 100,
}

#: Batches each API may have in flight at once in apply (see `syncd.engine.apply`). Four hide
#: a 100-300 ms round trip to the vendor; the HTTP layer still paces the calls: HubSpot's
#: rolling window (190 per 10 s), Mailchimp's connection limiter (nine of its ten).
BATCHES_IN_FLIGHT = {"hubspot": 4, "mailchimp": 4}

_CLASS_OF = {"applied": None, "rejected": ErrorClass.REJECTED, "retry": ErrorClass.TRANSIENT}


def _outcomes(
    items: Sequence[OutboxItem], result: ApplyResult, remote_of: Mapping[int, str | None]
) -> dict[int, ItemOutcome]:
    by_key = result.by_id()
    out: dict[int, ItemOutcome] = {}
    for item in items:
        remote = remote_of[item.id]
        if remote is None:
            out[item.id] = ItemOutcome(
                "rejected",
                ErrorClass.REJECTED,
                "contact no longer exists in the target system",
                Reason.CONTACT_DELETED,
            )
            continue
        got = by_key.get((remote, item.action))
        if got is None:
            out[item.id] = ItemOutcome(
                "retry", ErrorClass.SYSTEM, "no outcome reported", Reason.NO_OUTCOME
            )
            continue
        if got.outcome == "applied":
            out[item.id] = ItemOutcome("applied")
            continue
        message = got.message or got.reason
        if got.reason and got.message and got.reason not in got.message:
            message = f"{got.reason}: {got.message}"
        out[item.id] = ItemOutcome(got.outcome, _CLASS_OF[got.outcome], message, got.reason)
    return out


class MembershipWriter:
    """Lists (HubSpot) or tags (Mailchimp) through `Connector.apply`."""

    def __init__(self, connector: Connector, *, recreate: bool = True) -> None:
        self.connector = connector
        self.api = connector.name
        self.recreate = recreate

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        """Find or create the list or tag; a known id is verified, never re-found by name.

        A known id that is gone is made again, unless `recreate` is off
        (`on_deleted_target: stop`): then the connector raises `target_deleted_kept`.
        """
        return self.connector.ensure_target(
            Target(ref.kind, ref.name, ref.remote_name, known_remote_id, self.recreate)
        )

    def batch_size(self, ref: TargetRef) -> int:
        """See `BATCH_SIZES`."""
        return BATCH_SIZES[ref.kind]

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        """One add/remove call for the batch; one outcome per row."""
        remote_of = {
            i.id: i.mailchimp_id if ref.kind is TargetKind.MAILCHIMP_TAG else i.hubspot_id
            for i in items
        }
        adds: list[Member] = []
        removes: list[Member] = []
        for item in items:
            remote = remote_of[item.id]
            if remote is None:
                continue
            # Each vendor at its own identity: Mailchimp at the member's own address (the
            # profile's may be HubSpot's, changed since), HubSpot by record id.
            mailchimp = ref.kind is TargetKind.MAILCHIMP_TAG
            member = Member(remote, item.mailchimp_email if mailchimp else item.email)
            (adds if item.action == "add" else removes).append(member)
        result = (
            self.connector.apply(remote_id, adds, removes) if adds or removes else ApplyResult()
        )
        return _outcomes(items, result, remote_of)


class PropertiesWriter:
    """syncd's HubSpot contact properties through batch update."""

    api = "hubspot"

    def __init__(
        self, writer: PropertyWriter, segment_keys: Sequence[str], stage_keys: Sequence[str]
    ) -> None:
        self.writer = writer
        self.segment_keys = list(segment_keys)
        self.stage_keys = list(stage_keys)

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        """Create the properties, or add options for new segments and stages."""
        self.writer.ensure_properties(self.segment_keys, self.stage_keys)
        return ref.name

    def batch_size(self, ref: TargetRef) -> int:
        """HubSpot's batch update takes 100 records."""
        return BATCH_SIZES[ref.kind]

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        """One batch update; one outcome per row."""
        remote_of = {i.id: i.hubspot_id for i in items}
        updates = [
            PropertyUpdate(i.hubspot_id, decode_properties(i.value))
            for i in items
            if i.hubspot_id is not None
        ]
        result = self.writer.write_properties(updates) if updates else ApplyResult()
        return _outcomes(items, result, remote_of)


class RoutingWriter:
    """One writer per API that sends property targets and list targets to the right adapter."""

    def __init__(self, api: str, lists: MembershipWriter, properties: PropertiesWriter | None):
        self.api = api
        self.lists = lists
        self.properties = properties
        self.in_flight = BATCHES_IN_FLIGHT.get(api, 1)

    def _pick(self, ref: TargetRef) -> MembershipWriter | PropertiesWriter:
        if ref.kind is TargetKind.HUBSPOT_PROPERTY:
            if self.properties is None:
                raise KeyError(f"{self.api} has no property writer")
            return self.properties
        return self.lists

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        """See `Writer.ensure`."""
        return self._pick(ref).ensure(ref, known_remote_id)

    def batch_size(self, ref: TargetRef) -> int:
        """See `Writer.batch_size`."""
        return self._pick(ref).batch_size(ref)

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        """See `Writer.write`."""
        return self._pick(ref).write(ref, remote_id, items)
