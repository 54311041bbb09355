"""Segment analytics: sizes, field coverage, overlap, over-segmentation warnings and KPIs.

Computed on the result of `evaluate.assign`, so a million contacts take about as long as
evaluating them. Powers `syncd segments list` (text and `--json`) and the console's segments
page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from syncd.segments.checks import FieldCoverage, mistakes
from syncd.segments.evaluate import BatchResult, assign
from syncd.segments.ruleset import RuleSet
from syncd.segments.typing_columns import Profiles

CUSTOMER_STAGES = ("customer", "advocate")
KPI_FIELDS = {"open_rate": "open_rate", "click_rate": "click_rate",
              "conversions": "conversions", "revenue": "revenue"}  # fmt: skip


@dataclass(frozen=True)
class SegmentStats:
    """Size and KPIs of one segment; KPI values are None when the field has no data."""

    key: str
    model: str
    goal: str | None
    size: int
    share: float
    avg_open_rate: float | None = None
    avg_click_rate: float | None = None
    conversions_sum: float | None = None
    conversions_avg: float | None = None
    revenue_sum: float | None = None
    revenue_avg: float | None = None
    customer_share: float | None = None
    score: float | None = None
    rank: int | None = None
    #: What `rank` is within: `goal:<goal>` or `model:<model>` (KPIs compare within it).
    rank_group: str | None = None
    persona: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class SegmentReport:
    """Everything `syncd segments list` shows.

    Attributes:
        contacts: Contacts analysed.
        journey: Contacts per journey stage (`(none)` for no stage).
        segments: Per-segment size and KPIs, in file order; `rank` 1 is the best performer
            among the segments of the same goal (or, outside goals, the same model).
        coverage: Per used field, lowest first.
        overlap: Pairwise shared members {a: {b: count}} for a != b with count > 0.
        jaccard: The same pairs as |a and b| / |a or b|.
        warnings: Over-segmentation and data-coverage warnings, one line each.
    """

    contacts: int
    journey: dict[str, int]
    segments: list[SegmentStats]
    coverage: list[FieldCoverage]
    overlap: dict[str, dict[str, int]]
    jaccard: dict[str, dict[str, float]]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for `--json`."""
        return asdict(self)

    def render_text(self) -> str:
        """A compact table a person reads in a terminal."""
        lines = [f"{self.contacts} contacts", "journey:"]
        lines += [f"  {_fit(k, 24):<24} {v:>9}" for k, v in self.journey.items()]
        lines.append("segments (rank by KPI score within the same goal or model; 1 is best):")
        lines.append(
            f"  {'key':<28} {'goal/model':<20} {'size':>9} {'share':>6} {'open':>6} "
            f"{'click':>6} {'conv':>6} {'rev/avg':>9} {'cust':>5} {'rank':>4}"
        )
        for s in self.segments:
            kind = f"goal {s.goal}" if s.goal else s.model
            lines.append(
                f"  {_fit(s.key, 28):<28} {_fit(kind, 20):<20} {s.size:>9} {s.share:>6.1%} "
                f"{_pct(s.avg_open_rate):>6} {_pct(s.avg_click_rate):>6} "
                f"{_num(s.conversions_avg, 2):>6} {_num(s.revenue_avg):>9} "
                f"{_pct(s.customer_share):>5} {s.rank or '-':>4}"
            )
            about = " - ".join(x for x in (s.persona, s.description) if x)
            if about:
                lines.append(f"    {about}")
        lines.append("field coverage:")
        lines += [f"  {_fit(c.field, 24):<24} {c.share:>6.1%}{'  not enough data' if c.low else ''}"
                  for c in self.coverage]  # fmt: skip
        if self.warnings:
            lines.append("warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


def analyse(
    rules: RuleSet,
    profiles: Profiles,
    now: datetime,
    *,
    coverage_threshold: float = 0.5,
    tiny_share: float = 0.01,
    max_tiny: int = 5,
    first_seen: Mapping[str, datetime] | None = None,
) -> SegmentReport:
    """Evaluate the rules on a batch of profiles and report on the result.

    Args:
        rules: The loaded rules.
        profiles: Canonical profiles, as rows or as columns (see `evaluate.assign`).
        now: The evaluation clock.
        coverage_threshold: Fields with values on fewer contacts than this share are flagged
            "not enough data".
        tiny_share: A segment below this share of contacts counts as tiny.
        max_tiny: More tiny segments than this is an over-segmentation warning.
        first_seen: Segment -> its first snapshot in the history, when known; a goal segment
            older than `UNTESTED_AFTER` with no holdout and no KPI target is then flagged.
    """
    result = assign(rules, profiles, now)
    n = len(result)
    typed = result.typed.select(c for c in result.typed.columns if not c.startswith("@"))
    typed = typed.rename({c: f"@f:{c}" for c in typed.columns})
    frame = pl.concat([result.frame, typed], how="horizontal")
    sizes = result.sizes()
    stats = _kpis(rules, frame, sizes, n)
    read = result.typed.select(f for f in rules.used_fields if f in result.typed.columns)
    coverage = _coverage(read, n, coverage_threshold)
    overlap, jaccard = _overlap(result, sizes)
    warnings = mistakes(
        rules, sizes, n, coverage, overlap, now,
        first_seen=first_seen or {}, tiny_share=tiny_share, max_tiny=max_tiny,
    )  # fmt: skip
    journey = {
        (k if k is not None else "(none)"): int(v)
        for k, v in result.frame["journey"].value_counts(sort=True).iter_rows()
    }
    return SegmentReport(n, journey, stats, coverage, overlap, jaccard, warnings)


def _kpis(rules: RuleSet, frame: pl.DataFrame, sizes: dict[str, int], n: int) -> list[SegmentStats]:
    present = {k: f"@f:{f}" for k, f in KPI_FIELDS.items() if f"@f:{f}" in frame.columns}
    is_customer = frame["journey"].is_in(CUSTOMER_STAGES).fill_null(False)
    if "@f:lifecycle_stage" in frame.columns:
        is_customer = is_customer | (frame["@f:lifecycle_stage"] == "customer").fill_null(False)
    frame = frame.with_columns(is_customer.alias("@customer"))
    aggs: list[pl.Expr] = []
    for seg in rules.segments:
        m = pl.col(seg.key)
        for kpi, col in present.items():
            aggs.append(pl.col(col).filter(m).mean().alias(f"{seg.key}|{kpi}|avg"))
            aggs.append(pl.col(col).filter(m).sum().alias(f"{seg.key}|{kpi}|sum"))
        aggs.append(pl.col("@customer").filter(m).mean().alias(f"{seg.key}|customer|avg"))
    row = frame.select(aggs).row(0, named=True) if aggs else {}

    def get(key: str, kpi: str, how: str) -> float | None:
        value = row.get(f"{key}|{kpi}|{how}")
        return None if value is None or sizes[key] == 0 else float(value)

    stats = [
        SegmentStats(
            key=s.key,
            model=s.model.value,
            goal=s.goal.value if s.goal else None,
            size=sizes[s.key],
            share=sizes[s.key] / n if n else 0.0,
            avg_open_rate=get(s.key, "open_rate", "avg"),
            avg_click_rate=get(s.key, "click_rate", "avg"),
            conversions_sum=get(s.key, "conversions", "sum"),
            conversions_avg=get(s.key, "conversions", "avg"),
            revenue_sum=get(s.key, "revenue", "sum"),
            revenue_avg=get(s.key, "revenue", "avg"),
            customer_share=get(s.key, "customer", "avg"),
            rank_group=f"goal:{s.goal.value}" if s.goal else f"model:{s.model.value}",
            persona=s.persona,
            description=s.description,
        )
        for s in rules.segments
    ]
    return _rank(stats)


def _rank(stats: list[SegmentStats]) -> list[SegmentStats]:
    """Rank each segment among those of its own goal (or model); see `_rank_group`."""
    groups: dict[str | None, list[SegmentStats]] = {}
    for s in stats:
        groups.setdefault(s.rank_group, []).append(s)
    ranked = {s.key: s for group in groups.values() for s in _rank_group(group)}
    return [ranked[s.key] for s in stats]


def _rank_group(stats: list[SegmentStats]) -> list[SegmentStats]:
    """Score = mean percentile rank across the KPIs a segment has; rank 1 is the best.

    Percentile ranks make KPIs with different units (rates, counts, money) comparable, and a
    segment strong on several of them rises to the top. Segments are compared only within one
    goal: a trial segment has no revenue yet, and ranking it against renewals says nothing.
    """
    metrics = ("avg_open_rate", "avg_click_rate", "conversions_avg", "revenue_avg",
               "customer_share")  # fmt: skip
    scores: dict[str, list[float]] = {s.key: [] for s in stats}
    for metric in metrics:
        vals = sorted(getattr(s, metric) for s in stats if getattr(s, metric) is not None)
        if len(vals) < 2:
            continue
        for s in stats:
            v = getattr(s, metric)
            if v is not None:
                below = sum(1 for x in vals if x < v)
                equal = sum(1 for x in vals if x == v)
                scores[s.key].append((below + (equal - 1) / 2) / (len(vals) - 1))
    score = {k: sum(v) / len(v) if v else None for k, v in scores.items()}
    ordered = sorted((k for k in score if score[k] is not None), key=lambda k: -(score[k] or 0))
    rank = {k: i + 1 for i, k in enumerate(ordered)}
    return [
        SegmentStats(**{**asdict(s), "score": score[s.key], "rank": rank.get(s.key)}) for s in stats
    ]


def _coverage(typed: pl.DataFrame, n: int, threshold: float) -> list[FieldCoverage]:
    if not typed.columns or n == 0:
        return []
    counts = typed.select(pl.all().is_not_null().sum()).row(0, named=True)
    out = [FieldCoverage(k, v / n, v / n < threshold) for k, v in counts.items()]
    return sorted(out, key=lambda c: c.share)


def _overlap(
    result: BatchResult, sizes: dict[str, int]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    keys = [k for k in result.keys if sizes[k]]
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    if not pairs:
        return {}, {}
    row = result.frame.select(
        (pl.col(a) & pl.col(b)).sum().alias(f"{a}|{b}") for a, b in pairs
    ).row(0)
    overlap: dict[str, dict[str, int]] = {}
    jaccard: dict[str, dict[str, float]] = {}
    for (a, b), both in zip(pairs, row, strict=True):
        if not both:
            continue
        union = sizes[a] + sizes[b] - both
        for x, y in ((a, b), (b, a)):
            overlap.setdefault(x, {})[y] = int(both)
            jaccard.setdefault(x, {})[y] = round(both / union, 4)
    return overlap, jaccard


def _fit(name: str, width: int) -> str:
    """`name` within its column of `render_text`, cut with an ellipsis if too long.

    The columns after it stay aligned however long a key in the mappings is.
    """
    return name if len(name) <= width else name[: width - 1] + "\u2026"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
