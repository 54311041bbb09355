"""KPI moments per segment, with targeted members and the holdout apart.

A sync evaluates contacts in batches, so KPIs are kept as moments (count, sum, sum of
squares) that add up across batches; the mean and the variance come out at the end, and the
holdout comparison (`lift.py`) needs nothing more. Computed on `evaluate.BatchResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from syncd.segments.evaluate import BatchResult, holdout_col
from syncd.segments.ruleset import RuleSet

#: Groups of a segment's members: written to its targets, or held out for measurement.
MEMBERS = "members"
HOLDOUT = "holdout"
#: Beside the groups in a snapshot's KPIs: the fingerprint of the segment's rule at the time.
RULE_KEY = "rule"


@dataclass
class Moments:
    """Count, sum and sum of squares of one KPI over one group of members."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, other: Moments) -> None:
        """Fold another batch's moments into these."""
        self.n += other.n
        self.total += other.total
        self.squares += other.squares

    @property
    def mean(self) -> float | None:
        """The average, or None without values."""
        return self.total / self.n if self.n else None

    @property
    def var(self) -> float | None:
        """The sample variance (n - 1), or None with fewer than two values."""
        if self.n < 2:
            return None
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))

    def to_dict(self) -> dict[str, Any]:
        """What a snapshot stores: n, mean and variance."""
        return {"n": self.n, "mean": self.mean, "var": self.var}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Moments:
        """Back from `to_dict` (sums rebuilt from the mean and variance)."""
        n = int(raw.get("n") or 0)
        mean = float(raw.get("mean") or 0.0)
        var = float(raw.get("var") or 0.0)
        total = mean * n
        squares = var * (n - 1) + total * total / n if n else 0.0
        return cls(n, total, squares)


#: segment -> group (MEMBERS / HOLDOUT) -> KPI -> moments
KpiMoments = dict[str, dict[str, dict[str, Moments]]]


def kpi_moments(rules: RuleSet, result: BatchResult) -> KpiMoments:
    """Each segment's KPI moments over its targeted members and its holdout in one batch."""
    typed = result.typed
    frame = result.frame
    specs: list[tuple[str, str, str, pl.Expr]] = []
    for seg in rules.segments:
        member = pl.col(seg.key)
        held = pl.col(holdout_col(seg.key)) if holdout_col(seg.key) in frame.columns else None
        groups = {MEMBERS: member if held is None else member & ~held}
        if held is not None:
            groups[HOLDOUT] = held
        for kpi in seg.kpi_fields(rules.fields):
            if kpi not in typed.columns:
                continue
            for group, mask in groups.items():
                specs.append((seg.key, group, kpi, pl.col(f"@k:{kpi}").filter(mask)))
    out: KpiMoments = {s.key: {} for s in rules.segments}
    if not specs:
        return out
    both = pl.concat([frame, typed.select(pl.all().name.prefix("@k:"))], how="horizontal").select(
        agg
        for i, (_, _, _, values) in enumerate(specs)
        for agg in (
            values.count().alias(f"{i}n"),
            values.sum().alias(f"{i}s"),
            (values * values).sum().alias(f"{i}q"),
        )
    )
    row = both.row(0)
    for i, (key, group, kpi, _) in enumerate(specs):
        n, total, squares = row[3 * i], row[3 * i + 1], row[3 * i + 2]
        out[key].setdefault(group, {})[kpi] = Moments(int(n), float(total), float(squares))
    return out


def merge_moments(into: KpiMoments, more: KpiMoments) -> None:
    """Add one batch's moments into the run's."""
    for key, groups in more.items():
        for group, kpis in groups.items():
            for kpi, m in kpis.items():
                into.setdefault(key, {}).setdefault(group, {}).setdefault(kpi, Moments()).add(m)
