"""Segment analytics: sizes, field coverage, overlap, over-segmentation warnings and KPIs.

Computed on the result of `evaluate.assign`, so a million contacts take about as long as
evaluating them. Powers `syncd segments list` (text and `--json`) and the console's segments
page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from syncd.segments.evaluate import ROWS_COL, BatchResult, assign
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


@dataclass(frozen=True)
class FieldCoverage:
    """Share of contacts with a value for one field a rule reads."""

    field: str
    share: float
    low: bool


@dataclass(frozen=True)
class SegmentReport:
    """Everything `syncd segments list` shows.

    Attributes:
        contacts: Contacts analysed.
        journey: Contacts per journey stage (`(none)` for no stage).
        segments: Per-segment size and KPIs, in file order; `rank` 1 is the best performer.
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
        lines.append("segments (rank by KPI score; 1 is best):")
        lines.append(f"  {'key':<28} {'size':>9} {'share':>6} {'open':>6} {'click':>6} "
                     f"{'rev/avg':>9} {'cust':>5} {'rank':>4}")  # fmt: skip
        for s in self.segments:
            lines.append(
                f"  {_fit(s.key, 28):<28} {s.size:>9} {s.share:>6.1%} {_pct(s.avg_open_rate):>6} "
                f"{_pct(s.avg_click_rate):>6} {_num(s.revenue_avg):>9} "
                f"{_pct(s.customer_share):>5} {s.rank or '-':>4}"
            )
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
    """
    result = assign(rules, profiles, now)
    n = len(result)
    typed = result.typed.select(c for c in result.typed.columns if not c.startswith("@"))
    typed = typed.rename({c: f"@f:{c}" for c in typed.columns})
    frame = pl.concat([result.frame, typed], how="horizontal")
    sizes = result.sizes()
    warnings: list[str] = []
    stats = _kpis(rules, frame, sizes, n)
    coverage = _coverage(result.typed.drop(ROWS_COL, strict=False), n, coverage_threshold)
    for c in coverage:
        if c.low:
            warnings.append(f"field {c.field}: only {c.share:.0%} of contacts have a value "
                            "(not enough data for reliable segments)")  # fmt: skip
    tiny = []
    for seg in rules.segments:
        size = sizes[seg.key]
        if size == 0:
            warnings.append(f"segment {seg.key}: empty")
        elif seg.min_size is not None and size < seg.min_size:
            warnings.append(f"segment {seg.key}: {size} members, under its min_size {seg.min_size}")
        if n and size / n < tiny_share:
            tiny.append(seg.key)
    if len(tiny) > max_tiny:
        warnings.append(f"over-segmentation: {len(tiny)} segments hold under {tiny_share:.0%} "
                        f"of contacts each ({', '.join(tiny)})")  # fmt: skip
    overlap, jaccard = _overlap(result, sizes)
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
        )
        for s in rules.segments
    ]
    return _rank(stats)


def _rank(stats: list[SegmentStats]) -> list[SegmentStats]:
    """Score = mean percentile rank across the KPIs a segment has; rank 1 is the best.

    Percentile ranks make KPIs with different units (rates, counts, money) comparable, and a
    segment strong on several of them rises to the top.
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


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
