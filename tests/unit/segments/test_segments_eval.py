"""Combinators, references, journey order, exclusive groups, explain traces, field merge."""

from __future__ import annotations

from segkit import NOW, assigned, one, ruleset

from syncd.engine.targets import TargetKind, TargetRef
from syncd.identity import merge_fields
from syncd.segments import FieldDef, Source, assign, explain


def seg(key: str, when: object, **extra: object) -> dict[str, object]:
    return {"key": key, "model": "behavioral", "when": when, **extra}


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


def test_relative_dates_follow_the_injected_clock() -> None:
    rs = one({"field": "d", "within_days": 1})
    contact = {"d": "2026-07-01T00:00:00Z"}
    assert assigned(rs, [contact])[0][1] == {"x"}
    later = NOW.replace(year=2027)
    assert next(assign(rs, [contact], later).assignments()).segments == frozenset()


def test_merge_applies_prefer_and_falls_back() -> None:
    rs = one({"always": True})
    fm = rs.fields
    assert isinstance(fm["n"], FieldDef)
    # `prefer` orders a field's sources; the engine's merge takes the first one with a value.
    assert [s.system for s in fm["n"].sources()] == [Source.MAILCHIMP, Source.HUBSPOT]
    assert [s.system for s in fm["e"].sources()] == [Source.HUBSPOT]
    prefer = {name: str(f.sources()[0].system) for name, f in fm.items()}
    merged = merge_fields(
        {"hubspot": {"s": "a", "n": "1", "e": "2026-01-01"}, "mailchimp": {"n": 2, "t": ""}},
        prefer,
    )
    assert merged == {"s": "a", "n": 2, "e": "2026-01-01"}
    assert merge_fields({"hubspot": {"n": "1"}, "mailchimp": {}}, prefer) == {"n": "1"}
    assert merge_fields({"hubspot": None, "mailchimp": None}, prefer) == {}


def test_reason_and_targets_default() -> None:
    rs = one({"always": True})
    s = rs.segment_by_key["x"]
    assert s.where == "segments.yaml: segments[0]"  # what audit reasons and messages cite
    assert (s.targets.hubspot_list, s.targets.mailchimp_tag) == (False, False)
    # the namespaced names syncd owns for this segment (built by the engine from the key)
    assert TargetRef(TargetKind.HUBSPOT_LIST, s.key).remote_name == "syncd: x"
    assert TargetRef(TargetKind.MAILCHIMP_TAG, s.key).remote_name == "syncd:x"


def test_batch_accepts_columns() -> None:
    rs = one({"field": "n", "gt": 1})
    result = assign(rs, {"n": ["2", 0.5, None, "x"], "s": ["a", "b", "c", "d"]}, NOW)
    assert [i for i, a in enumerate(result.assignments()) if "x" in a.segments] == [0]
    assert result.sizes() == {"x": 1}
