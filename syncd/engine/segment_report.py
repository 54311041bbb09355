"""`syncd segments report`: each segment's trend, KPI targets, goal success and holdout lift.

Built from the stored history (`store/segment_history.py`): snapshots give the trend by date
(the last snapshot of each day, entries and exits summed over the day) and the KPI moments of
members and holdout; member stays give the goal success. The comparison with the holdout uses
the latest snapshot's KPIs and the success of every stay in the period.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.segments import RuleSet, Segment
from syncd.segments.kpis import HOLDOUT, MEMBERS, RULE_KEY, Moments
from syncd.segments.lift import Comparison, compare_means, compare_rates
from syncd.store.segment_history import Outcomes, Snapshot, read_outcomes, read_snapshots

#: A KPI under its target on this many snapshots in a row is a warning.
BELOW_TARGET_RUNS = 3
#: A goal segment this old with no holdout and no KPI target was never tested.
UNTESTED_AFTER = timedelta(days=30)


@dataclass
class SegmentTrend:
    """One segment in the report; see `SegmentReportHistory`."""

    key: str
    model: str
    goal: str | None
    persona: str | None
    description: str | None
    holdout: float | None
    points: list[dict[str, Any]] = field(default_factory=list)
    kpi_targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    success: dict[str, Any] | None = None
    lift: dict[str, Any] = field(default_factory=dict)
    rank_in_goal: int | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SegmentReportHistory:
    """Everything `syncd segments report` prints."""

    since: datetime | None
    now: datetime
    segments: list[SegmentTrend]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`--json`)."""
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        out["now"] = self.now.isoformat()
        return out


def load_report(
    db: Engine,
    workspace: str,
    rules: RuleSet,
    now: datetime,
    *,
    since: timedelta | None = None,
    segment: str | None = None,
) -> SegmentReportHistory:
    """The report for every segment of `rules` (or one) over the period `since` before `now`."""
    start = now - since if since is not None else None
    snaps = read_snapshots(db, workspace, since=start, segment=segment)
    chosen = [s for s in rules.segments if segment is None or s.key == segment]
    windows = {s.key: s.success.within for s in chosen if s.success}
    outcomes = read_outcomes(db, workspace, windows, now, since=start)
    return build_report(rules, chosen, snaps, outcomes, now, start)


def build_report(
    rules: RuleSet,
    chosen: list[Segment],
    snaps: list[Snapshot],
    outcomes: dict[str, dict[bool, Outcomes]],
    now: datetime,
    since: datetime | None,
) -> SegmentReportHistory:
    """The report from history already read (pure; tests feed it directly)."""
    by_segment: dict[str, list[Snapshot]] = {}
    for snap in snaps:
        by_segment.setdefault(snap.segment, []).append(snap)
    trends = []
    for seg in chosen:
        history = by_segment.get(seg.key, [])
        trend = SegmentTrend(
            seg.key, seg.model.value, seg.goal.value if seg.goal else None, seg.persona,
            seg.description, seg.holdout, points=_points(history),
        )  # fmt: skip
        _targets(seg, history, trend)
        if seg.success is not None:
            _success(seg, outcomes.get(seg.key, {}), trend)
        if history and history[-1].kpis.get(HOLDOUT):  # measured with a holdout
            _lift(history[-1], trend)
        untested = seg.goal and not seg.holdout and not seg.kpis
        if untested and history and now - history[0].at > UNTESTED_AFTER:
            trend.warnings.append(
                f"segment {seg.key}: a goal segment for {(now - history[0].at).days} days "
                "with no holdout and no KPI target; add `holdout: 10` and `kpis:` to test it"
            )
        trends.append(trend)
    _rank_within_goals(trends)
    return SegmentReportHistory(since, now, trends)


def _combined(kpis: dict[str, Any]) -> dict[str, float | None]:
    """KPI averages over all members (targeted and held out) of one snapshot."""
    total: dict[str, Moments] = {}
    for group in (MEMBERS, HOLDOUT):
        for kpi, raw in (kpis.get(group) or {}).items():
            total.setdefault(kpi, Moments()).add(Moments.from_dict(raw))
    return {k: m.mean for k, m in total.items()}


def _points(history: list[Snapshot]) -> list[dict[str, Any]]:
    """One point per day: the day's last snapshot, with entries and exits summed over it."""
    days: dict[str, dict[str, Any]] = {}
    for snap in history:
        day = snap.at.date().isoformat()
        prev = days.get(day)
        days[day] = {
            "date": day,
            "size": snap.size,
            "entered": snap.entered + (prev["entered"] if prev else 0),
            "exited": snap.exited + (prev["exited"] if prev else 0),
            "holdout_size": snap.holdout_size,
            "kpis": _combined(snap.kpis),
        }
    return list(days.values())


def _targets(seg: Segment, history: list[Snapshot], trend: SegmentTrend) -> None:
    for kpi, target in seg.kpis.items():
        values = [_combined(s.kpis).get(kpi) for s in history]
        streak = 0
        for v in reversed(values):
            if v is None or not _misses(v, target.min, target.max):
                break
            streak += 1
        latest = values[-1] if values else None
        trend.kpi_targets[kpi] = {"min": target.min, "max": target.max, "latest": latest,
                                  "missed_runs": streak}  # fmt: skip
        if streak >= BELOW_TARGET_RUNS:
            bound = f"min {target.min}" if target.min is not None else f"max {target.max}"
            rules = {s.kpis.get(RULE_KEY) for s in history[-streak:]}
            same = len(rules) == 1 and None not in rules
            trend.warnings.append(
                f"segment {seg.key}: {kpi} missed its target ({bound}) on the last {streak} "
                f"runs (now {latest:.4g})"
                + ("; its rule has not changed meanwhile (never refined)" if same else "")
                + "; refine the rule or the campaign, or revise the target"
            )


def _misses(value: float, low: float | None, high: float | None) -> bool:
    return (low is not None and value < low) or (high is not None and value > high)


def _success(seg: Segment, groups: dict[bool, Outcomes], trend: SegmentTrend) -> None:
    assert seg.success is not None
    both = Outcomes()
    for o in groups.values():
        both.tracked += o.tracked
        both.succeeded += o.succeeded
        both.expired += o.expired
        both.days_to_success += o.days_to_success
    decided = both.succeeded + both.expired
    trend.success = {
        "within_days": seg.success.within / timedelta(days=1),
        "tracked": both.tracked,
        "succeeded": both.succeeded,
        "expired": both.expired,
        "still_open": both.still_open,
        "conversion_rate": both.succeeded / decided if decided else None,
        "median_days_to_success": (
            statistics.median(both.days_to_success) if both.days_to_success else None
        ),
    }
    if seg.holdout:
        members, held = groups.get(False, Outcomes()), groups.get(True, Outcomes())
        trend.lift["success_rate"] = compare_rates(
            members.succeeded, members.tracked, held.succeeded, held.tracked
        ).to_dict()


def _lift(latest: Snapshot, trend: SegmentTrend) -> None:
    members = latest.kpis.get(MEMBERS) or {}
    held = latest.kpis.get(HOLDOUT) or {}
    for kpi in members:
        if kpi in held:
            got: Comparison = compare_means(
                Moments.from_dict(members[kpi]), Moments.from_dict(held[kpi])
            )
            trend.lift[kpi] = got.to_dict()


def _rank_within_goals(trends: list[SegmentTrend]) -> None:
    """Rank goal segments against the others of the same goal, by conversion rate."""
    by_goal: dict[str, list[SegmentTrend]] = {}
    for t in trends:
        if t.goal and t.success and t.success["conversion_rate"] is not None:
            by_goal.setdefault(t.goal, []).append(t)
    for members in by_goal.values():
        ordered = sorted(members, key=lambda t: -(t.success or {})["conversion_rate"])
        for i, t in enumerate(ordered):
            t.rank_in_goal = i + 1
