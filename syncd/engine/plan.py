"""The planner: desired memberships minus the ownership ledger, per target.

Pure: it sees contacts (with their computed segments), the configured targets and the ledger,
and returns changes with a reason each. The rules every write obeys live here:
- only contacts that exist in the target system are planned (syncd never creates members);
- consent: a Mailchimp member who is not subscribed (or pending/transactional) gets no adds;
- ownership: only memberships the ledger says syncd added are ever removed;
- a membership a person removed by hand (drift) is not re-added until the contact leaves the
  segment and enters it again.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from syncd.engine.changes import Action as Action
from syncd.engine.changes import Change as Change
from syncd.engine.changes import Changes
from syncd.store.models import MembershipState
from syncd.targets import (
    CONSENTING_STATUSES,
    PROP_SEGMENTS,
    PROP_STAGE,
    PROPERTIES,
    TargetKind,
    TargetRef,
)


class ContactView(NamedTuple):
    """What the planner needs to know of one contact.

    A named tuple rather than a frozen dataclass: a full run makes one per contact, and a
    tuple is built four times faster.
    """

    contact_id: int
    hubspot_id: str | None
    mailchimp_id: str | None
    mailchimp_status: str | None
    segments: frozenset[str]
    journey_stage: str | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """The ledger's view of one (target, contact)."""

    state: str
    value: str | None = None
    #: When the row last changed state (what `min_dwell` counts from).
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SegmentTargets:
    """Which targets one segment writes to, from `segments.yaml`."""

    key: str
    hubspot_list: bool
    mailchimp_tag: bool
    #: Anti-flapping for these targets (zero: off).
    min_dwell: timedelta = timedelta(0)

    def refs(self) -> list[TargetRef]:
        """The list and tag refs this segment owns."""
        refs = []
        if self.hubspot_list:
            refs.append(TargetRef(TargetKind.HUBSPOT_LIST, self.key))
        if self.mailchimp_tag:
            refs.append(TargetRef(TargetKind.MAILCHIMP_TAG, self.key))
        return refs


@dataclass
class Plan:
    """Everything one run intends to do, plus the figures the guards and reports need."""

    #: Compact (`Changes`) as the planner makes them; a plain list where a plan is rebuilt.
    changes: Sequence[Change] = field(default_factory=Changes)
    #: Drift rows to forget (ledger only, no API call): the contact left the segment.
    releases: list[tuple[str, int]] = field(default_factory=list)
    skipped_consent: Counter[str] = field(default_factory=Counter)
    #: Memberships syncd owns per target before this plan (the guards' denominator).
    owned: Counter[str] = field(default_factory=Counter)
    #: Changes left for a later run because `min_dwell` has not passed, per target.
    deferred: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per target: adds, removes, sets and consent skips."""
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            row = out.setdefault(change.target, {"add": 0, "remove": 0, "set": 0})
            row[change.action] += 1
        for target, skipped in self.skipped_consent.items():
            out.setdefault(target, {"add": 0, "remove": 0, "set": 0})["skipped_consent"] = skipped
        for target, waiting in self.deferred.items():
            out.setdefault(target, {"add": 0, "remove": 0, "set": 0})["deferred_dwell"] = waiting
        return dict(sorted(out.items()))


Ledger = Mapping[str, Mapping[int, LedgerEntry]]


def _in_system(ref: TargetRef, contact: ContactView) -> bool:
    if ref.kind is TargetKind.MAILCHIMP_TAG:
        return contact.mailchimp_id is not None
    return contact.hubspot_id is not None


def segments_value(segments: Iterable[str]) -> str:
    """HubSpot's multiple-checkbox format: option values joined by `;`, sorted for stability."""
    return ";".join(sorted(segments))


def make_plan(
    contacts: Iterable[ContactView],
    segment_targets: Sequence[SegmentTargets],
    ledger: Ledger,
    *,
    write_properties: bool = True,
    now: datetime | None = None,
) -> Plan:
    """Diff what the rules want against what syncd owns, with the whole ledger at hand.

    Args:
        contacts: Every contact in the store, with its segments and journey stage.
        segment_targets: The configured segments that write lists or tags.
        ledger: `target key -> contact id -> LedgerEntry` for the workspace.
        write_properties: Plan `syncd_segments` / `syncd_journey_stage` for HubSpot contacts.
        now: The run's clock, for `min_dwell` (without it no change is deferred).

    Returns:
        The plan; targets in the ledger that are no longer configured are emptied.
    """
    owned = Counter(
        {
            key: sum(1 for e in rows.values() if e.state == MembershipState.ADDED)
            for key, rows in ledger.items()
        }
    )
    planner = Planner(segment_targets, ledger, owned, write_properties=write_properties, now=now)
    planner.add(contacts, ledger)
    return planner.plan


class Planner:
    """Plans a run chunk by chunk, so neither the contacts nor the ledger are held whole.

    The sync feeds it contacts in chunks with the ledger rows of just those contacts
    (`engine/ledger.py ledger_for`); the figures the guards need from the whole ledger (owned
    memberships per target, the targets it names) are read up front by aggregate queries.

    Args:
        segment_targets: The configured segments that write lists or tags.
        ledger_targets: Every target key the ledger has rows for (no longer configured ones
            are emptied).
        owned: Memberships syncd owns (`added`) per target key, before this plan.
        write_properties: Plan `syncd_segments` / `syncd_journey_stage` for HubSpot contacts.
        now: The run's clock, for `min_dwell` (without it no change is deferred).
    """

    def __init__(
        self,
        segment_targets: Sequence[SegmentTargets],
        ledger_targets: Iterable[str],
        owned: Mapping[str, int],
        *,
        write_properties: bool = True,
        now: datetime | None = None,
    ) -> None:
        self.changes = Changes()
        self.plan = Plan(changes=self.changes)
        refs = [ref for st in segment_targets for ref in st.refs()]
        self._configured = {ref.key for ref in refs}
        self._dwell = {
            ref.key: st.min_dwell for st in segment_targets for ref in st.refs() if st.min_dwell
        }
        stale = [TargetRef.parse(k) for k in ledger_targets if k not in self._configured]
        self._refs = refs + [r for r in stale if r.kind is not TargetKind.HUBSPOT_PROPERTY]
        for ref in self._refs:
            self.plan.owned[ref.key] = owned.get(ref.key, 0)
        self._write_properties = write_properties
        self._now = now
        # One reason string per target and outcome, shared by every change that has it.
        self._reasons: dict[tuple[str, bool], str] = {}

    def add(self, contacts: Iterable[ContactView], ledger: Ledger) -> None:
        """Plan `contacts`; `ledger` must hold at least their rows (it may hold more).

        Per target, set arithmetic picks the contacts whose membership may change (wanted and
        not owned, or in the ledger and no longer wanted); only those go through the rules
        one by one. A steady run, where almost nothing changes, costs a few set operations
        per target rather than a step per contact and target.
        """
        chunk = {c.contact_id: c for c in contacts}
        members: dict[str, set[int]] = defaultdict(set)
        for c in chunk.values():
            for name in c.segments:
                members[name].add(c.contact_id)
        present = {
            TargetKind.HUBSPOT_LIST: {i for i, c in chunk.items() if c.hubspot_id is not None},
            TargetKind.MAILCHIMP_TAG: {i for i, c in chunk.items() if c.mailchimp_id is not None},
        }
        nobody: set[int] = set()
        for ref in self._refs:
            rows = ledger.get(ref.key, {})
            here = present[ref.kind]
            configured = ref.key in self._configured
            wanted = members.get(ref.name, nobody) & here if configured else nobody
            owned = {i for i, e in rows.items() if e.state == MembershipState.ADDED}
            for contact_id in sorted((wanted - owned) | ((here & rows.keys()) - wanted)):
                self._one(ref, chunk[contact_id], rows.get(contact_id), contact_id in wanted)
        if self._write_properties:
            for contact in chunk.values():
                if contact.hubspot_id is not None:
                    _plan_properties(self.changes, contact, ledger)

    def _one(
        self, ref: TargetRef, contact: ContactView, entry: LedgerEntry | None, wanted: bool
    ) -> None:
        """The rules for one contact on one target: dwell, consent, ownership, drift."""
        now, dwell = self._now, self._dwell
        if (
            now is not None
            and ref.key in dwell
            and _dwelling(ref, contact, entry, wanted, now - dwell[ref.key])
        ):
            self.plan.deferred[ref.key] += 1
            return
        _plan_membership(
            self.plan, self.changes, ref, contact, entry, self._reason(ref, wanted), wanted=wanted
        )

    def _reason(self, ref: TargetRef, wanted: bool) -> str:
        key = (ref.key, wanted)
        reason = self._reasons.get(key)
        if reason is None:
            verb = "matched" if wanted else "no longer matches"
            reason = self._reasons[key] = f"rule segments/{ref.name} {verb}"
        return reason


def _dwelling(
    ref: TargetRef, contact: ContactView, entry: LedgerEntry | None, wanted: bool, cutoff: datetime
) -> bool:
    """Whether `min_dwell` defers this contact's change on `ref` (it changed after `cutoff`).

    A member added is not removed, and one removed is not re-added, until it has stayed so
    for the dwell. Consent always wins: a Mailchimp member who is no longer subscribed loses
    the tag at once, and no one is added without consent (the planner checks that anyway).
    """
    if entry is None or entry.since is None or entry.since <= cutoff:
        return False
    if wanted:
        return entry.state == MembershipState.REMOVED
    if entry.state != MembershipState.ADDED:
        return False
    consenting = contact.mailchimp_status in CONSENTING_STATUSES
    return ref.kind is not TargetKind.MAILCHIMP_TAG or consenting


def _plan_membership(
    plan: Plan,
    changes: Changes,
    ref: TargetRef,
    contact: ContactView,
    entry: LedgerEntry | None,
    reason: str,
    *,
    wanted: bool,
) -> None:
    state = entry.state if entry else None
    if wanted:
        if state in (None, MembershipState.REMOVED):
            consent_ok = (
                ref.kind is not TargetKind.MAILCHIMP_TAG
                or contact.mailchimp_status in CONSENTING_STATUSES
            )
            if consent_ok:
                changes.append(Change(ref.key, contact.contact_id, Action.ADD, reason))
            else:
                plan.skipped_consent[ref.key] += 1
        return
    if state == MembershipState.ADDED:
        changes.append(Change(ref.key, contact.contact_id, Action.REMOVE, reason))
    elif state == MembershipState.DRIFT_REMOVED:
        plan.releases.append((ref.key, contact.contact_id))


def properties_value(segments: Iterable[str], stage: str | None) -> str:
    """The ledger value of syncd's HubSpot properties for one contact (stable JSON)."""
    return json.dumps(
        {PROP_SEGMENTS: segments_value(segments), PROP_STAGE: stage or ""}, sort_keys=True
    )


def decode_properties(value: str | None) -> dict[str, str]:
    """Inverse of `properties_value`; empty values for a contact never written."""
    if not value:
        return {PROP_SEGMENTS: "", PROP_STAGE: ""}
    decoded: dict[str, str] = json.loads(value)
    return decoded


def _plan_properties(changes: Changes, contact: ContactView, ledger: Ledger) -> None:
    value = _value_of(contact.segments, contact.journey_stage)
    entry = ledger.get(PROPERTIES.key, {}).get(contact.contact_id)
    last = entry.value if entry else None
    if last == value:
        return
    reason = _set_reason(last, value)
    if reason is not None:
        changes.append(Change(PROPERTIES.key, contact.contact_id, Action.SET, reason, value))


# Contacts share a handful of segment sets, so values and reasons are built once per distinct
# input and shared: at a million contacts, one string per change would cost hundreds of MB.
@functools.lru_cache(maxsize=8192)
def _value_of(segments: frozenset[str], stage: str | None) -> str:
    return properties_value(segments, stage)


@functools.lru_cache(maxsize=8192)
def _set_reason(last: str | None, value: str) -> str | None:
    """Why the properties change from `last` to `value`; None when there is nothing to write."""
    new = decode_properties(value)
    if last is None and not any(new.values()):
        return None
    old = decode_properties(last)
    changed = [
        f"{name} is now {new[name] or '(empty)'}"
        for name in sorted(new)
        if new[name] != old.get(name)
    ]
    return "; ".join(changed)
