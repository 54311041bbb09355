"""Lift arithmetic against independent computations from the raw samples."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from scipy import stats

from syncd.segments.kpis import Moments
from syncd.segments.lift import compare_means, compare_rates


def moments(values: list[float]) -> Moments:
    return Moments(len(values), sum(values), sum(v * v for v in values))


def test_means_match_welch_on_the_raw_samples() -> None:
    rng = random.Random(3)
    members = [rng.gauss(0.30, 0.1) for _ in range(900)]
    holdout = [rng.gauss(0.27, 0.1) for _ in range(100)]
    got = compare_means(moments(members), moments(holdout))
    # Independent: scipy's own test on the raw values, and the interval by hand.
    ref = stats.ttest_ind(members, holdout, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    diff = statistics.fmean(members) - statistics.fmean(holdout)
    assert got.difference == pytest.approx(diff)
    assert got.lift == pytest.approx(diff / statistics.fmean(holdout))
    v1, v0 = statistics.variance(members), statistics.variance(holdout)
    se = math.sqrt(v1 / 900 + v0 / 100)
    df = (v1 / 900 + v0 / 100) ** 2 / ((v1 / 900) ** 2 / 899 + (v0 / 100) ** 2 / 99)
    half = stats.t.ppf(0.975, df) * se
    assert (got.ci_low, got.ci_high) == pytest.approx((diff - half, diff + half))


def test_rates_match_the_two_proportion_z_test_by_hand() -> None:
    got = compare_rates(120, 1000, 8, 110)
    p1, p0 = 0.12, 8 / 110
    pooled = 128 / 1110
    z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 110))
    assert got.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    se = math.sqrt(p1 * (1 - p1) / 1000 + p0 * (1 - p0) / 110)
    assert got.ci_low == pytest.approx(p1 - p0 - 1.959964 * se, rel=1e-5)
    assert got.lift == pytest.approx((p1 - p0) / p0)


def test_not_enough_data_says_how_many_more_members() -> None:
    got = compare_rates(12, 100, 1, 11)
    assert got.p_value is not None and got.p_value > 0.05
    assert got.more_needed is not None
    # The computed need: holdout n0 = (z_a + z_b)^2 (p1 q1 / k + p0 q0) / d^2, members k n0.
    p1, p0, k = 0.12, 1 / 11, 100 / 11
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    n0 = z * z * (p1 * (1 - p1) / k + p0 * (1 - p0)) / (p1 - p0) ** 2
    assert got.more_needed == math.ceil(n0 * (1 + k) - 111)
    assert got.verdict.startswith(f"not enough data yet: need about {got.more_needed} more")
    assert compare_rates(5, 10, 0, 1).verdict.startswith("not enough data yet: 10 members")


def test_a_clear_difference_is_called() -> None:
    got = compare_rates(300, 1000, 10, 100)
    assert got.p_value is not None and got.p_value < 0.001
    assert got.verdict.startswith("members do better than the holdout (+200.0%")
    assert got.more_needed is None
