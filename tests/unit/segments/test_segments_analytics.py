"""`analyse` on the default mappings and realistic synthetic data: sizes, coverage, overlap,
warnings and KPI ranks.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from segkit import NOW, ruleset, seg

from syncd.segments import analyse, load_mappings
from tests.support.synthetic_profiles import generate_columns

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


def test_report_has_sizes_coverage_overlap_warnings_and_ranks() -> None:
    rs = load_mappings(MAPPINGS)
    report = analyse(rs, generate_columns(3000, seed=7, now=NOW), NOW, max_tiny=0)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["contacts"] == 3000
    by_key = {s["key"]: s for s in data["segments"]}
    assert by_key["high-value"]["revenue_avg"] >= 20000
    assert by_key["high-value"]["customer_share"] > 0.9
    # Ranks compare segments of one goal (or one model) only: 1..k within each group.
    groups: dict[str, list[int]] = {}
    for s in data["segments"]:
        if s["rank"] is not None:
            groups.setdefault(s["rank_group"], []).append(s["rank"])
    assert groups["model:geographic"] and groups["model:firmographic"]
    for ranks in groups.values():
        assert sorted(ranks) == list(range(1, len(ranks) + 1))
    assert by_key["trial-to-paid"]["rank_group"] == "goal:convert"
    assert by_key["trial-to-paid"]["persona"] == "New Trial Nancy"
    assert by_key["trial-to-paid"]["conversions_avg"] is not None
    coverage = {c["field"]: c for c in data["coverage"]}
    assert coverage["trial_started_at"]["low"] and not coverage["open_rate"]["low"]
    assert data["overlap"]["dach"].get("north-america") is None
    assert data["overlap"]["high-value"]["cross-sell-established"] > 0
    assert any(w.startswith("over-segmentation:") for w in report.warnings)
    assert "segments (rank by KPI score" in report.render_text()
    assert "New Trial Nancy - Trial started" in report.render_text()


def test_min_size_warning() -> None:
    rs = load_mappings(MAPPINGS)
    report = analyse(rs, generate_columns(200, seed=1, now=NOW), NOW)
    assert any("under its min_size" in w for w in report.warnings)


def test_classic_mistakes_fire_on_crafted_mappings() -> None:
    rs = ruleset(
        [
            seg("everyone", {"always": True}),
            seg("almost", {"field": "n", "gte": 2}, targets={"hubspot_list": True}),
            seg("rare", {"field": "d", "exists": True}),
            {"key": "old-goal", "model": "goal", "goal": "convert", "when": {"always": True}},
        ]
    )
    profiles = [{"n": i, "d": "2026-01-01" if i == 0 else None} for i in range(150)]
    report = analyse(rs, profiles, NOW, first_seen={"old-goal": NOW - timedelta(days=45)})
    text = "\n".join(report.warnings)
    # Not enough data: the field the rule reads, with who reads it.
    assert "field d: only 1% of contacts have a value" in text and "read by rare" in text
    # Over-segmenting: under the default minimum, even without min_size; still synced.
    assert "segment rare: 1 members, under the default minimum 50" in text
    # More than 90% shared with another segment.
    assert "segment almost: 100% of its members are also in everyone" in text
    # Too many segments for the contacts.
    assert "over-segmentation: 4 segments for 150 contacts" in text
    # Never tested: a goal segment 45 days old with no holdout and no KPI target.
    assert "segment old-goal: a goal segment for 45 days with no holdout" in text
    tested = ruleset(
        [{"key": "old-goal", "model": "goal", "goal": "convert", "when": {"always": True},
          "holdout": 10}]
    )  # fmt: skip
    again = analyse(tested, profiles, NOW, first_seen={"old-goal": NOW - timedelta(days=45)})
    assert not any("never tested" in w for w in again.warnings)
