"""The classic segmentation mistakes as checks: too little data, over-segmenting, never tested.

Each warning names the segment (or field) and says what to do. `analytics.analyse` runs them
on every report, so `syncd segments list`, `syncd check` and the console show the same lines;
`syncd segments report` adds the checks that need history (KPIs below target run after run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncd.segments.rules import fields_used
from syncd.segments.ruleset import RuleSet

#: A segment without its own `min_size` warns below this many members.
DEFAULT_MIN_SIZE = 50
#: A segment with more than this share of its members also in another one duplicates it.
MAX_OVERLAP = 0.9
#: Fewer contacts per segment than this, on average, is over-segmenting.
MIN_CONTACTS_PER_SEGMENT = 100
#: A goal segment older than this with no holdout and no KPI target was never tested.
UNTESTED_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class FieldCoverage:
    """Share of contacts with a value for one field a rule reads."""

    field: str
    share: float
    low: bool


def mistakes(
    rules: RuleSet,
    sizes: Mapping[str, int],
    n: int,
    coverage: list[FieldCoverage],
    overlap: Mapping[str, Mapping[str, int]],
    now: datetime,
    *,
    first_seen: Mapping[str, datetime],
    tiny_share: float,
    max_tiny: int,
) -> list[str]:
    """Every warning for one evaluation, one line each (see the module's docstring)."""
    warnings = _coverage_warnings(rules, coverage)
    warnings += _size_warnings(rules, sizes, n, now, first_seen, tiny_share, max_tiny)
    for a, others in overlap.items():
        for b, both in others.items():
            if sizes[a] and both / sizes[a] > MAX_OVERLAP and sizes[a] <= sizes[b]:
                warnings.append(
                    f"segment {a}: {both / sizes[a]:.0%} of its members are also in {b} "
                    "(over-segmenting: merge them, or make them exclusive)"
                )
    return warnings


def _coverage_warnings(rules: RuleSet, coverage: list[FieldCoverage]) -> list[str]:
    out = []
    for c in coverage:
        if c.low:
            readers = [s.key for s in rules.segments if c.field in fields_used(s.when)]
            out.append(
                f"field {c.field}: only {c.share:.0%} of contacts have a value (not enough data "
                f"for reliable segments{'; read by ' + ', '.join(readers) if readers else ''}): "
                "fill the field in the source, or rely on a field with more data"
            )
    return out


def _size_warnings(
    rules: RuleSet,
    sizes: Mapping[str, int],
    n: int,
    now: datetime,
    first_seen: Mapping[str, datetime],
    tiny_share: float,
    max_tiny: int,
) -> list[str]:
    warnings: list[str] = []
    tiny = []
    for seg in rules.segments:
        size = sizes[seg.key]
        minimum = seg.min_size if seg.min_size is not None else DEFAULT_MIN_SIZE
        writes = seg.targets.hubspot_list or seg.targets.mailchimp_tag
        if size == 0:
            warnings.append(f"segment {seg.key}: empty; check its rule or remove it")
        elif size < minimum:
            own = "its min_size" if seg.min_size is not None else "the default minimum"
            warnings.append(
                f"segment {seg.key}: {size} members, under {own} {minimum} (over-segmenting: "
                "widen its rule or merge it into a broader segment"
                + ("; it is still written to its targets)" if writes else ")")
            )
        if n and size / n < tiny_share:
            tiny.append(seg.key)
        born = first_seen.get(seg.key)
        if seg.goal and not seg.holdout and not seg.kpis and born and now - born > UNTESTED_AFTER:
            warnings.append(
                f"segment {seg.key}: a goal segment for {(now - born).days} days with no holdout "
                "and no KPI target (never tested): add `holdout: 10` and `kpis:` targets"
            )
    if len(tiny) > max_tiny:
        warnings.append(f"over-segmentation: {len(tiny)} segments hold under {tiny_share:.0%} "
                        f"of contacts each ({', '.join(tiny)})")  # fmt: skip
    if n and len(rules.segments) * MIN_CONTACTS_PER_SEGMENT > n:
        warnings.append(
            f"over-segmentation: {len(rules.segments)} segments for {n} contacts (fewer than "
            f"{MIN_CONTACTS_PER_SEGMENT} per segment on average): drop or merge segments"
        )
    return warnings
