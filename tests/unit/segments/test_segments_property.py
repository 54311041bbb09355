"""Property tests: the evaluator (`assign`) == `explain`'s verdicts and traces == a plain
reference interpreter, over journey stages, exclusive groups and references.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segkit import FIELDS, NOW, loads_mappings

from syncd.segments import FieldType, Trace, assign
from syncd.segments.explanation import explanations
from syncd.segments.fields import NORMALISERS

TYPES = {
    "s": FieldType.STRING,
    "n": FieldType.NUMBER,
    "b": FieldType.BOOLEAN,
    "d": FieldType.DATETIME,
}
WORDS = ["a", "b", "Ab", "eng", "Senior Engineer", ""]
DATES = [
    NOW + timedelta(days=k, hours=h) for k in (-400, -40, -31, -29, -1, 0, 2, 45) for h in (0, 5)
]

text_values = st.sampled_from([*WORDS, " a", "ENG"])
number_values = st.one_of(
    st.integers(-3, 12),
    st.floats(-5, 15),
    st.just(float("nan")),
    st.sampled_from(["3", " 4.5", "1e1", "x", "-2", ".5", "7."]),
)
date_values = st.sampled_from(DATES).flatmap(
    lambda d: st.sampled_from([
        d, d.replace(tzinfo=None), d.isoformat(), d.strftime("%Y-%m-%dT%H:%M:%SZ"),
        d.astimezone(UTC).strftime("%Y-%m-%d"), d.strftime("%Y-%m-%d %H:%M"),
        d.astimezone(UTC).isoformat().replace("+00:00", "+02:00"), "not a date", "2026-13-45",
    ])
)  # fmt: skip
any_value = st.one_of(st.none(), text_values, number_values, st.booleans(), date_values)
contact = st.fixed_dictionaries(
    {}, optional={"s": any_value, "n": any_value, "b": any_value, "d": any_value}
)


def _leaf(field: str, ops: list[str], operands: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda op, v: {"field": field, op: v}, st.sampled_from(ops), operands)


def leaves() -> st.SearchStrategy[dict[str, Any]]:
    words = st.sampled_from(WORDS[:-1])
    small = st.integers(-3, 12)
    iso = st.sampled_from(["2026-06-01", "2026-07-01T12:00:00Z", "2025-01-01"])
    return st.one_of(
        _leaf("s", ["eq", "ne"], words),
        _leaf("s", ["in", "not_in"], st.lists(words, min_size=1, max_size=3)),
        _leaf("s", ["contains"], st.sampled_from(["a", "eng", "NIOR"])),
        _leaf("n", ["eq", "ne", "gt", "gte", "lt", "lte"], small),
        _leaf("n", ["in", "not_in"], st.lists(small, min_size=1, max_size=3)),
        _leaf("n", ["between"], st.builds(lambda lo, w: [lo, lo + w], small, st.integers(0, 5))),
        _leaf("b", ["eq", "ne"], st.booleans()),
        _leaf("d", ["within_days", "older_than_days"], st.sampled_from([0, 1, 30, 365])),
        _leaf("d", ["before", "after"], iso),
        st.builds(
            lambda f, v: {"field": f, "exists": v}, st.sampled_from(list(TYPES)), st.booleans()
        ),
        st.builds(lambda v: {"always": v}, st.booleans()),
    )


def trees(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=8,
    )


conditions = trees(leaves())


@st.composite
def rule_docs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(stages, segments): 0-3 journey stages; 1-3 segments `rN` that may refer to a stage
    (`journey/sN`) and may share the exclusive group `g` (priorities tie often); then `refs`,
    which refers to `r0`'s final membership.
    """
    keys = [f"s{i}" for i in range(draw(st.integers(0, 3)))]
    stages = [{"key": k, "when": draw(conditions)} for k in keys]
    journey_refs = [{"segment": f"journey/{k}"} for k in keys]
    seg_when = trees(st.one_of(leaves(), st.sampled_from(journey_refs))) if keys else conditions
    segments = []
    for i in range(draw(st.integers(1, 3))):
        seg = {"key": f"r{i}", "model": "behavioral", "when": draw(seg_when)}
        if draw(st.booleans()):
            seg |= {"exclusive": "g", "priority": draw(st.integers(0, 2))}
        segments.append(seg)
    when = {"any": [{"segment": "r0"}, draw(seg_when)]}
    segments.append({"key": "refs", "model": "behavioral", "when": when})
    return stages, segments


def reference(
    cond: dict[str, Any], c: dict[str, Any], segs: dict[str, bool], journey: str | None = None
) -> bool:
    """The rule semantics written out plainly, independent of the evaluator; `segs` holds the
    final memberships a reference sees and `journey` the contact's stage.
    """
    if "all" in cond:
        return all([reference(x, c, segs, journey) for x in cond["all"]])
    if "any" in cond:
        return any([reference(x, c, segs, journey) for x in cond["any"]])
    if "not" in cond:
        return not reference(cond["not"], c, segs, journey)
    if "always" in cond:
        return bool(cond["always"])
    if "segment" in cond:
        target = cond["segment"]
        if target.startswith("journey/"):
            return journey == target.removeprefix("journey/")
        return segs[target]
    name = cond["field"]
    ((op, x),) = ((k, v) for k, v in cond.items() if k != "field")
    v = NORMALISERS[TYPES[name]](c.get(name))
    if op == "exists":
        return (v is not None) == x
    if v is None:
        return False
    if op in ("before", "after"):
        d = datetime.fromisoformat(x)
        d = d if d.tzinfo else d.replace(tzinfo=UTC)
        return v < d if op == "before" else v > d
    if op == "within_days":
        return abs((v - NOW).total_seconds()) <= x * 86400
    if op == "older_than_days":
        return (NOW - v).total_seconds() > x * 86400
    if op == "contains":
        return x.lower() in v.lower()
    if op == "between":
        return x[0] <= v <= x[1]
    if op == "eq":
        return bool(v == x)
    if op == "ne":
        return bool(v != x)
    if op == "in":
        return v in x
    if op == "not_in":
        return v not in x
    if op == "gt":
        return bool(v > x)
    if op == "gte":
        return bool(v >= x)
    if op == "lt":
        return bool(v < x)
    return bool(v <= x)


def expected(
    stages: list[dict[str, Any]], segments: list[dict[str, Any]], c: dict[str, Any]
) -> tuple[str | None, dict[str, bool], dict[str, bool]]:
    """(journey stage, raw match per segment, final membership per segment) for one contact:
    first matching stage wins; in group `g` the highest priority wins, ties to the first listed.
    """
    journey = next((s["key"] for s in stages if reference(s["when"], c, {})), None)
    *plain, refs = segments
    raw = {s["key"]: reference(s["when"], c, {}, journey) for s in plain}
    final = dict(raw)
    taken = False
    for s in sorted((s for s in plain if s.get("exclusive")), key=lambda s: -s["priority"]):
        final[s["key"]] = raw[s["key"]] and not taken
        taken = taken or raw[s["key"]]
    raw["refs"] = final["refs"] = reference(refs["when"], c, final, journey)
    return journey, raw, final


def check_trace(
    t: Trace,
    cond: dict[str, Any],
    c: dict[str, Any],
    final: dict[str, bool],
    journey: str | None,
    rules: dict[str, dict[str, Any]],
) -> None:
    """Every node of an explain trace has the reference's result and shows the typed value."""
    assert t.result == reference(cond, c, final, journey), (t.path, cond)
    if t.kind in ("all", "any"):
        assert len(t.children) == len(cond[t.kind])
        for child, sub in zip(t.children, cond[t.kind], strict=True):
            check_trace(child, sub, c, final, journey, rules)
    elif t.kind == "not":
        check_trace(t.children[0], cond["not"], c, final, journey, rules)
    elif t.kind == "segment":
        # the node is the final membership; its child is the referenced rule's own match
        check_trace(t.children[0], rules[cond["segment"]], c, final, journey, rules)
    elif t.kind == "journey":
        assert t.value == journey
    elif t.kind == "field":
        assert t.value == NORMALISERS[TYPES[cond["field"]]](c.get(cond["field"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=rule_docs(), contacts=st.lists(contact, min_size=1, max_size=12))
def test_assign_explain_and_reference_agree(
    docs: tuple[list[dict[str, Any]], list[dict[str, Any]]], contacts: list[dict[str, Any]]
) -> None:
    stages, segments = docs
    doc: dict[str, Any] = {"journey": {"stages": stages}, "segments": segments}
    rs = loads_mappings(yaml.safe_dump(FIELDS), yaml.safe_dump(doc))
    assigned = list(assign(rs, contacts, NOW).assignments())
    explained = explanations(rs, contacts, NOW)
    rules = {s["key"]: s["when"] for s in segments}
    by_priority = sorted((s for s in segments if s.get("exclusive")), key=lambda s: -s["priority"])
    for c, a, ex in zip(contacts, assigned, explained, strict=True):
        journey, raw, final = expected(stages, segments, c)
        assert a.journey_stage == journey
        assert a.segments == frozenset(k for k, v in final.items() if v)
        assert ex.journey_stage == journey
        for v, stage in zip(ex.stages, stages, strict=True):
            assert (v.matched, v.member) == (
                reference(stage["when"], c, {}),
                stage["key"] == journey,
            )
            check_trace(v.trace, stage["when"], c, final, journey, rules)
        winner = next((s["key"] for s in by_priority if final[s["key"]]), None)
        for v, seg in zip(ex.segments, segments, strict=True):
            key = seg["key"]
            lost_to = winner if raw[key] and not final[key] else None
            assert (v.matched, v.member, v.lost_to) == (raw[key], final[key], lost_to)
            check_trace(v.trace, seg["when"], c, final, journey, rules)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(any_value, min_size=1, max_size=20), ftype=st.sampled_from(list(FieldType)))
def test_column_typing_equals_value_typing(values: list[Any], ftype: FieldType) -> None:
    from syncd.segments.typing_columns import typed_series

    got = typed_series("f", values, ftype, len(values)).to_list()
    assert got == [NORMALISERS[ftype](v) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), any_value.filter(lambda v: isinstance(v, str)), st.text())
    ),
    ftype=st.sampled_from([t for t in FieldType if t is not FieldType.LIST]),
)
def test_typing_a_polars_text_column_equals_value_typing(
    values: list[str | None], ftype: FieldType
) -> None:
    import polars as pl

    from syncd.segments.typing_columns import typed_series

    text = pl.Series("f", values, dtype=pl.String)
    got = typed_series("f", text, ftype, len(values)).to_list()
    assert got == [NORMALISERS[ftype](v) for v in values]
