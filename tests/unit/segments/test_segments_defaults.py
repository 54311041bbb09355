"""The default mappings on realistic synthetic data: every segment and stage is non-empty."""

from __future__ import annotations

import json
from pathlib import Path

from segkit import NOW, verdicts

from syncd.segments import analyse, assign, load_mappings
from syncd.segments.explanation import explanations
from tests.support.synthetic_profiles import generate_columns, generate_rows

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


def test_every_default_segment_and_stage_is_non_empty() -> None:
    rs = load_mappings(MAPPINGS)
    result = assign(rs, generate_columns(3000, seed=7, now=NOW), NOW)
    empty = [k for k, size in result.sizes().items() if size == 0]
    assert empty == []
    stages = set(result.journey())
    assert {s.key for s in rs.stages} <= stages


def test_explain_agrees_with_assign_on_the_default_rules() -> None:
    rs = load_mappings(MAPPINGS)
    rows = generate_rows(2000, seed=3, now=NOW)
    expected = [tuple(a) for a in assign(rs, rows, NOW).assignments()]
    assert [verdicts(e) for e in explanations(rs, rows, NOW)] == expected


def test_report_has_sizes_coverage_overlap_warnings_and_ranks() -> None:
    rs = load_mappings(MAPPINGS)
    report = analyse(rs, generate_columns(3000, seed=7, now=NOW), NOW, max_tiny=0)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["contacts"] == 3000
    by_key = {s["key"]: s for s in data["segments"]}
    assert by_key["high-value"]["revenue_avg"] >= 20000
    assert by_key["high-value"]["customer_share"] > 0.9
    assert sorted(s["rank"] for s in data["segments"]) == list(range(1, len(by_key) + 1))
    coverage = {c["field"]: c for c in data["coverage"]}
    assert coverage["trial_started_at"]["low"] and not coverage["open_rate"]["low"]
    assert data["overlap"]["dach"].get("north-america") is None
    assert data["overlap"]["high-value"]["cross-sell-established"] > 0
    assert any(w.startswith("over-segmentation:") for w in report.warnings)
    assert "segments (rank by KPI score" in report.render_text()


def test_min_size_warning() -> None:
    rs = load_mappings(MAPPINGS)
    report = analyse(rs, generate_columns(200, seed=1, now=NOW), NOW)
    assert any("under its min_size" in w for w in report.warnings)
