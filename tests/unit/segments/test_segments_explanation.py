"""`explain`: traces with values, operators and group outcomes; agreement with `assign`."""

from __future__ import annotations

from pathlib import Path

from segkit import NOW, ruleset, seg, verdicts

from syncd.segments import assign, explain, load_mappings
from syncd.segments.explanation import explanations
from tests.support.synthetic_profiles import generate_rows

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


def test_explain_traces_values_operators_and_group_outcome() -> None:
    rs = ruleset(
        [
            seg(
                "low",
                {
                    "all": [
                        {"field": "s", "contains": "eng"},
                        {"not": {"field": "n", "exists": True}},
                    ]
                },
                exclusive="goals",
                priority=1,
            ),
            seg("high", {"segment": "journey/st"}, exclusive="goals", priority=5),
            seg("ref", {"segment": "low"}),
        ],
        [{"key": "st", "when": {"field": "d", "within_days": 7}}],
    )
    ex = explain(rs, {"s": "Engineer", "d": "2026-06-28T00:00:00Z"}, NOW)
    assert ex.journey_stage == "st"
    low, high, ref = ex.segments
    assert (low.matched, low.member, low.lost_to) == (True, False, "high")
    assert low.summary == "matched but lost to high in group goals"
    assert high.member and high.summary == "in"
    first = low.trace.children[0]
    assert (first.field, first.op, first.operand, first.value, first.result) == (
        "s", "contains", "eng", "Engineer", True
    )  # fmt: skip
    assert first.path == "segments[0].when.all[0]"
    negated = low.trace.children[1]
    assert negated.kind == "not" and negated.result and negated.children[0].value is None
    assert ref.trace.kind == "segment" and ref.trace.children[0].kind == "all"
    assert ref.trace.result is False  # final membership of 'low' is false
    text = ex.render_text()
    assert "~ low: matched but lost to high in group goals" in text
    assert "yes s contains 'eng': value 'Engineer'" in text
    assert ex.to_dict()["segments"][0]["trace"]["children"][0]["value"] == "Engineer"


def test_explain_agrees_with_assign_on_the_default_rules() -> None:
    rs = load_mappings(MAPPINGS)
    rows = generate_rows(2000, seed=3, now=NOW)
    expected = [tuple(a) for a in assign(rs, rows, NOW).assignments()]
    assert [verdicts(e) for e in explanations(rs, rows, NOW)] == expected
