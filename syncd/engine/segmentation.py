"""Segment every stored contact and turn the result into the planner's view.

Contacts are read in batches and evaluated column-wise (polars), which is an order of
magnitude faster than per-contact closures; the results feed the pure planner. Members a
segment holds out (`holdout:`) are kept out of the planner's view, so they are written to no
target; they, the contacts that met each success condition and the KPI moments are kept for
the segment history (`engine/snapshots.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from syncd.engine.plan import ContactView, SegmentTargets
from syncd.engine.profiles.read import StoredContact, iter_contacts
from syncd.segments import RuleSet, assign
from syncd.segments.evaluate import holdout_col, success_col
from syncd.segments.kpis import KpiMoments, kpi_moments, merge_moments

_BATCH = 20_000


@dataclass
class Segmented:
    """The planner's input plus the figures the run summary shows."""

    contacts: list[ContactView] = field(default_factory=list)
    sizes: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    #: Segment -> contact ids in the segment but held out of its targets.
    held_out: dict[str, set[int]] = field(default_factory=dict)
    #: Segment -> contact ids for which the segment's `success.when` holds now.
    succeeded: dict[str, set[int]] = field(default_factory=dict)
    kpis: KpiMoments = field(default_factory=dict)


def holdout_identity(contact: StoredContact) -> int | str:
    """The stable id a holdout is hashed from (the one place to re-point when ids change)."""
    return contact.id


def segment_targets(
    rules: RuleSet, default_dwell: timedelta = timedelta(0)
) -> list[SegmentTargets]:
    """The segments that write somewhere, as the planner wants them.

    Args:
        rules: The mappings.
        default_dwell: `safety.min_dwell`, for segments that set no `min_dwell` of their own.
    """
    return [
        SegmentTargets(
            s.key,
            s.targets.hubspot_list,
            s.targets.mailchimp_tag,
            s.min_dwell if s.min_dwell is not None else default_dwell,
        )
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
    out.held_out = {s.key: set() for s in rules.segments if s.holdout}
    out.succeeded = {s.key: set() for s in rules.segments if s.success}
    for batch in _batches(iter_contacts(db, workspace, rules.fields)):
        ids = [holdout_identity(c) for c in batch]
        result = assign(rules, [c.profile for c in batch], now, ids=ids)
        merge_moments(out.kpis, kpi_moments(rules, result))
        held: dict[int, set[str]] = {}
        for key, found in out.held_out.items():
            for i in result.frame[holdout_col(key)].arg_true().to_list():
                found.add(batch[i].id)
                held.setdefault(i, set()).add(key)
        for key, found in out.succeeded.items():
            found.update(batch[i].id for i in result.frame[success_col(key)].arg_true().to_list())
        for i, (stored, assignment) in enumerate(zip(batch, result.assignments(), strict=True)):
            out.contacts.append(
                ContactView(
                    contact_id=stored.id,
                    hubspot_id=stored.hubspot_id,
                    mailchimp_id=stored.mailchimp_id,
                    mailchimp_status=stored.mailchimp_status,
                    segments=assignment.segments - held[i] if i in held else assignment.segments,
                    journey_stage=assignment.journey_stage,
                )
            )
            out.sizes.update(assignment.segments)
            out.stages[assignment.journey_stage or "(none)"] += 1
    return out
