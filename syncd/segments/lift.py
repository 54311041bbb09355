"""Members against the holdout: lift, a 95% confidence interval, a p-value and a verdict.

KPIs (averages) are compared with Welch's t-test from their moments; success rates with the
two-proportion z-test (pooled for the p-value, unpooled for the interval). The distributions
come from scipy. When the difference is not significant, the verdict says how many more
members the segment needs before a difference of the size seen so far would be detected
(80% power at the 5% level, with the segment's own split between members and holdout) —
computed from the data, never a fixed rule of thumb.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass
from typing import Any

from syncd.segments.kpis import Moments

ALPHA = 0.05
POWER = 0.80


def _stats() -> Any:
    """scipy.stats, imported on first use: it is slow to load and most commands never need it."""
    return importlib.import_module("scipy.stats")


@dataclass(frozen=True)
class Comparison:
    """Members vs holdout on one measure.

    Attributes:
        members: The members' value (mean or rate); None without data.
        holdout: The holdout's value.
        n_members: Members measured.
        n_holdout: Held-out members measured.
        difference: members - holdout.
        lift: difference / holdout (relative), None when the holdout's value is 0.
        ci_low: Lower end of the 95% interval of the difference.
        ci_high: Upper end.
        p_value: Two-sided p-value of "no difference".
        more_needed: Members (members + holdout) still needed to detect the difference seen.
        verdict: The result in plain words.
    """

    members: float | None
    holdout: float | None
    n_members: int
    n_holdout: int
    difference: float | None = None
    lift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    more_needed: int | None = None
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _needed(diff: float, var_members: float, var_holdout: float, ratio: float) -> float:
    """Holdout size needed to detect `diff` (members = ratio x holdout), normal approximation."""
    stats = _stats()
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return float(z * z * (var_members / ratio + var_holdout) / (diff * diff))


def _finish(
    members: float,
    holdout: float,
    n1: int,
    n0: int,
    se: float,
    crit: float,
    p: float,
    need_holdout: float | None,
) -> Comparison:
    diff = members - holdout
    lift = diff / holdout if holdout else None
    more = None
    if p >= ALPHA and need_holdout is not None:
        total = need_holdout * (1 + n1 / n0)
        more = max(1, math.ceil(total - (n1 + n0)))
    return Comparison(
        members, holdout, n1, n0, diff, lift, diff - crit * se, diff + crit * se, p, more,
        _verdict(diff, lift, p, more),
    )  # fmt: skip


def _verdict(diff: float, lift: float | None, p: float, more: int | None) -> str:
    how = f"{lift:+.1%}" if lift is not None else f"{diff:+.4g}"
    if p < ALPHA:
        better = "better" if diff > 0 else "worse"
        return f"members do {better} than the holdout ({how}, p={p:.3f})"
    if more is None:
        return f"no difference between members and holdout so far (p={p:.2f})"
    return f"not enough data yet: need about {more} more members ({how} so far, p={p:.2f})"


def _too_few(members: float | None, holdout: float | None, n1: int, n0: int) -> Comparison:
    return Comparison(
        members, holdout, n1, n0,
        verdict=f"not enough data yet: {n1} members and {n0} held out measured "
        "(at least 2 of each are needed to compare)",
    )  # fmt: skip


def compare_means(members: Moments, holdout: Moments) -> Comparison:
    """Welch's t-test on the members' and the holdout's averages of one KPI."""
    n1, n0 = members.n, holdout.n
    if n1 < 2 or n0 < 2 or members.var is None or holdout.var is None:
        return _too_few(members.mean, holdout.mean, n1, n0)
    m1, m0 = float(members.mean or 0.0), float(holdout.mean or 0.0)
    v1, v0 = members.var, holdout.var
    se = math.sqrt(v1 / n1 + v0 / n0)
    if se == 0:
        p = 1.0 if m1 == m0 else 0.0
        return _finish(m1, m0, n1, n0, 0.0, 0.0, p, None)
    stats = _stats()
    df = (v1 / n1 + v0 / n0) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    t = (m1 - m0) / se
    p = float(2 * stats.t.sf(abs(t), df))
    crit = float(stats.t.ppf(1 - ALPHA / 2, df))
    need = _needed(m1 - m0, v1, v0, n1 / n0) if m1 != m0 else None
    return _finish(m1, m0, n1, n0, se, crit, p, need)


def compare_rates(hits1: int, n1: int, hits0: int, n0: int) -> Comparison:
    """Two-proportion z-test on the members' and the holdout's success rates."""
    if n1 < 2 or n0 < 2:
        return _too_few(hits1 / n1 if n1 else None, hits0 / n0 if n0 else None, n1, n0)
    stats = _stats()
    p1, p0 = hits1 / n1, hits0 / n0
    pooled = (hits1 + hits0) / (n1 + n0)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    p = 1.0 if se0 == 0 else float(2 * stats.norm.sf(abs(p1 - p0) / se0))
    crit = float(stats.norm.ppf(1 - ALPHA / 2))
    need = _needed(p1 - p0, p1 * (1 - p1), p0 * (1 - p0), n1 / n0) if p1 != p0 else None
    return _finish(p1, p0, n1, n0, se, crit, p, need)
