"""`assign`: combinators, references, journey order, exclusive groups, the clock, input shapes,
and every default segment and stage on realistic data.
"""

from __future__ import annotations

from pathlib import Path

from segkit import NOW, assigned, one, ruleset, seg

from syncd.segments import assign, load_mappings
from tests.support.synthetic_profiles import generate_columns

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


def test_combinators() -> None:
    rs = one(
        {
            "all": [
                {"any": [{"field": "s", "eq": "a"}, {"field": "s", "eq": "b"}]},
                {"not": {"field": "n", "lt": 0}},
                {"all": []},
                {"not": {"any": []}},
            ]
        }
    )
    got = assigned(rs, [{"s": "a", "n": 1}, {"s": "b"}, {"s": "c"}, {"s": "a", "n": -1}])
    assert [("x" in s) for _, s in got] == [True, True, False, False]


def test_journey_first_match_and_references() -> None:
    stages = [
        {"key": "vip", "when": {"field": "n", "gte": 100}},
        {"key": "paying", "when": {"field": "n", "gte": 1}},
        {"key": "free", "when": {"always": True}},
    ]
    rs = ruleset(
        [
            seg("big", {"segment": "journey/vip"}),
            seg(
                "not-big-but-paying",
                {"all": [{"segment": "journey/paying"}, {"not": {"segment": "big"}}]},
            ),
            seg("derived", {"segment": "not-big-but-paying"}),
        ],
        stages,
    )
    got = assigned(rs, [{"n": 500}, {"n": 5}, {}])
    assert got == [
        ("vip", frozenset({"big"})),
        ("paying", frozenset({"not-big-but-paying", "derived"})),
        ("free", frozenset()),
    ]


def test_exclusive_group_higher_priority_wins_ties_go_to_the_first_listed() -> None:
    rs = ruleset(
        [
            seg("low", {"always": True}, exclusive="g", priority=1),
            seg("high", {"field": "n", "gt": 0}, exclusive="g", priority=10),
            seg("tie-a", {"field": "s", "eq": "t"}, exclusive="h"),
            seg("tie-b", {"field": "s", "eq": "t"}, exclusive="h"),
            seg("sees-group", {"segment": "low"}),  # sees final membership, after the group
        ]
    )
    assert rs.groups["g"] == ("high", "low")
    got = assigned(rs, [{"n": 1, "s": "t"}, {"n": -1}])
    assert got[0] == (None, frozenset({"high", "tie-a"}))
    assert got[1] == (None, frozenset({"low", "sees-group"}))


def test_relative_dates_follow_the_injected_clock() -> None:
    rs = one({"field": "d", "within_days": 1})
    contact = {"d": "2026-07-01T00:00:00Z"}
    assert assigned(rs, [contact])[0][1] == {"x"}
    later = NOW.replace(year=2027)
    assert next(assign(rs, [contact], later).assignments()).segments == frozenset()


def test_batch_accepts_columns() -> None:
    rs = one({"field": "n", "gt": 1})
    result = assign(rs, {"n": ["2", 0.5, None, "x"], "s": ["a", "b", "c", "d"]}, NOW)
    assert [i for i, a in enumerate(result.assignments()) if "x" in a.segments] == [0]
    assert result.sizes() == {"x": 1}


def test_every_default_segment_and_stage_is_non_empty() -> None:
    rs = load_mappings(MAPPINGS)
    result = assign(rs, generate_columns(3000, seed=7, now=NOW), NOW)
    empty = [k for k, size in result.sizes().items() if size == 0]
    assert empty == []
    stages = set(result.journey())
    assert {s.key for s in rs.stages} <= stages
