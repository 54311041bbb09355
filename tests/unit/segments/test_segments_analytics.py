"""`analyse` on the default mappings and realistic synthetic data: sizes, coverage, overlap,
warnings and KPI ranks.
"""

from __future__ import annotations

import json
from pathlib import Path

from segkit import NOW

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
