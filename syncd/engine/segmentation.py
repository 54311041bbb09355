"""Segment every stored contact and turn the result into the planner's view.

Contacts are read in batches and evaluated column-wise (polars), which is an order of
magnitude faster than per-contact closures; the results feed the pure planner.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from syncd.engine.plan import ContactView, SegmentTargets
from syncd.engine.profiles.read import StoredContact, iter_contacts
from syncd.segments import RuleSet, assign

_BATCH = 20_000


@dataclass
class Segmented:
    """The planner's input plus the figures the run summary shows."""

    contacts: list[ContactView] = field(default_factory=list)
    sizes: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)


def segment_targets(rules: RuleSet) -> list[SegmentTargets]:
    """The segments that write somewhere, as the planner wants them."""
    return [
        SegmentTargets(s.key, s.targets.hubspot_list, s.targets.mailchimp_tag)
        for s in rules.segments
        if s.targets.hubspot_list or s.targets.mailchimp_tag
    ]


def _batches(items: Iterator[StoredContact]) -> Iterator[list[StoredContact]]:
    batch: list[StoredContact] = []
    for item in items:
        batch.append(item)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def segment_store(db: Engine, workspace: str, rules: RuleSet, now: datetime) -> Segmented:
    """Evaluate the rules over every contact of the workspace, batch by batch."""
    out = Segmented()
    for batch in _batches(iter_contacts(db, workspace, rules.fields)):
        result = assign(rules, [c.profile for c in batch], now)
        for stored, assignment in zip(batch, result.assignments(), strict=True):
            out.contacts.append(
                ContactView(
                    contact_id=stored.id,
                    hubspot_id=stored.hubspot_id,
                    mailchimp_id=stored.mailchimp_id,
                    mailchimp_status=stored.mailchimp_status,
                    segments=assignment.segments,
                    journey_stage=assignment.journey_stage,
                )
            )
            out.sizes.update(assignment.segments)
            out.stages[assignment.journey_stage or "(none)"] += 1
    return out
