"""Segment every stored contact and turn the result into the planner's view.

Contacts are read in batches as typed columns (`profiles/columns.py`: the attributes JSON
decoded and merged by polars, no per-contact dict) and evaluated column-wise; each contact's
planner view is built straight from the evaluated columns. Members a
segment holds out (`holdout:`) are kept out of the planner's view, so they are written to no
target; they, the contacts that met each success condition and the KPI moments are kept for
the segment history (`engine/snapshots.py`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Engine

from syncd.engine.plan import ContactView, SegmentTargets
from syncd.engine.profiles.columns import ProfileBatch, profile_batches_ahead
from syncd.engine.profiles.read import StoredContact
from syncd.segments import RuleSet
from syncd.segments.evaluate import assign_typed, holdout_col, success_col, with_derived
from syncd.segments.kpis import KpiMoments, kpi_moments, merge_moments

#: Contacts evaluated together: also the population the derived scores' quintiles come from.
BATCH = 20_000
#: Segments per bit mask (a polars Int64 holds 63 bits; one spare).
_BITS = 62


@dataclass
class Segmented:
    """The run's segmentation figures (and, without a sink, the planner's input).

    A sync hands each batch's views to its planner as they are made (`segment_store`'s
    `sink`) and keeps none; `contacts` then stays empty.
    """

    contacts: list[ContactView] = field(default_factory=list)
    #: Segment -> the contact ids in it (held-out members included), one array per batch.
    member_batches: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)
    sizes: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    #: Segment -> contact ids in the segment but held out of its targets.
    held_out: dict[str, set[int]] = field(default_factory=dict)
    #: Segment -> contact ids for which the segment's `success.when` holds now.
    succeeded: dict[str, set[int]] = field(default_factory=dict)
    kpis: KpiMoments = field(default_factory=dict)

    def members(self, key: str) -> npt.NDArray[np.int64]:
        """The contact ids in segment `key` (held out included), sorted and unique."""
        parts = self.member_batches.get(key) or [np.empty(0, dtype=np.int64)]
        return np.unique(np.concatenate(parts))


#: Where a sync sends each batch's planner views (see `Segmented`).
ViewSink = Callable[[list[ContactView]], None]


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


def segment_store(
    db: Engine, workspace: str, rules: RuleSet, now: datetime, sink: ViewSink | None = None
) -> Segmented:
    """Evaluate the rules over every contact of the workspace, batch by batch.

    Profiles come as typed columns (`profiles.columns`), and each contact's view is built
    straight from the evaluated columns: contacts with the same segments share one frozenset.

    Args:
        db: The store.
        workspace: Whose contacts.
        rules: The mappings.
        now: The run's clock (relative dates, dwell).
        sink: Takes each batch's views, in contact id order, as they are made; the sync's
            planner, so memory holds one batch of views, not every contact's. Without it the
            views are collected in `contacts`.
    """
    out = Segmented()
    out.held_out = {s.key: set() for s in rules.segments if s.holdout}
    out.succeeded = {s.key: set() for s in rules.segments if s.success}
    views = _Views(rules)
    with _collector_paused():
        for batch in profile_batches_ahead(db, workspace, rules, BATCH):
            typed = with_derived(rules, batch.typed, len(batch), now)
            # Holdouts hash the contact id: `holdout_identity`, batch-wide.
            result = assign_typed(rules, typed, now, ids=batch.ids)
            merge_moments(out.kpis, kpi_moments(rules, result))
            views.add(out, batch, result.frame, sink)
    return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for segmentation, restored after it (errors too).

    The phase allocates millions of short-lived acyclic objects (fetched rows, planner views);
    the collector's passes over them cost about a tenth of it (1M contacts: 170k/s paused,
    133k/s not). A caller's own pause is left as it was.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Views:
    """Turns evaluated batches into planner views and the run's figures."""

    def __init__(self, rules: RuleSet) -> None:
        self.keys = rules.keys
        held = {s.key for s in rules.segments if s.holdout}
        # A contact's segments for the planner: final memberships but the held-out ones.
        final = [pl.col(k) & ~pl.col(holdout_col(k)) if k in held else pl.col(k) for k in self.keys]
        self.chunks = [self.keys[i : i + _BITS] for i in range(0, len(self.keys), _BITS)]
        self.masks = [
            functools.reduce(
                operator.or_,
                [e.cast(pl.Int64) * (1 << b) for b, e in enumerate(final[i : i + _BITS])],
            )
            for i in range(0, len(final), _BITS)
        ]
        self.sets: dict[Any, frozenset[str]] = {}

    def segment_sets(self, masks: list[Any]) -> list[frozenset[str]]:
        """Each mask's segment keys; contacts with the same segments share one frozenset.

        A mask is an int, or a tuple of them past 62 segments.
        """
        sets = self.sets
        for mask in set(masks).difference(sets):
            parts = mask if isinstance(mask, tuple) else (mask,)
            sets[mask] = frozenset(
                k
                for chunk, m in zip(self.chunks, parts, strict=True)
                for b, k in enumerate(chunk)
                if m >> b & 1
            )
        return [sets[m] for m in masks]

    def add(
        self, out: Segmented, batch: ProfileBatch, frame: pl.DataFrame, sink: ViewSink | None
    ) -> None:
        """One evaluated batch into `out`: views, sizes, stages, holdouts and successes."""
        ids = pl.Series("id", batch.ids, dtype=pl.Int64)
        for key, found in out.held_out.items():
            found.update(ids.filter(frame[holdout_col(key)]).to_list())
        for key, found in out.succeeded.items():
            found.update(ids.filter(frame[success_col(key)]).to_list())
        if self.keys:
            sums = frame.select(pl.col(k).sum() for k in self.keys).row(0)
            out.sizes.update({k: int(v) for k, v in zip(self.keys, sums, strict=True) if v})
        journey = frame["journey"].fill_null("(none)")
        counts = dict(journey.value_counts().iter_rows())
        for stage in journey.unique(maintain_order=True).to_list():
            out.stages[stage] += counts[stage]
        if len(self.masks) == 1:
            masks: Any = frame.select(self.masks[0]).to_series().to_list()
        elif self.masks:
            masks = frame.select(self.masks).rows()
        else:
            masks = [0] * frame.height
            self.chunks = [()]
        for key in self.keys:
            in_segment = ids.filter(frame[key]).to_numpy().astype(np.int64)
            if len(in_segment):
                out.member_batches.setdefault(key, []).append(in_segment)
        views = list(
            map(
                ContactView,
                batch.ids,
                batch.hubspot_ids,
                batch.mailchimp_ids,
                batch.statuses,
                self.segment_sets(masks),
                frame["journey"].to_list(),
            )
        )
        if sink is None:
            out.contacts.extend(views)
        else:
            sink(views)
