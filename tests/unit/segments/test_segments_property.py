"""Property tests: compiled closures == columnar polars == a plain reference interpreter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segkit import FIELDS, NOW

from syncd.segments import FieldType, assign, loads_mappings, normalise
from syncd.segments.compile import compile_rules

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


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=8,
)


def reference(cond: dict[str, Any], c: dict[str, Any], segs: dict[str, bool]) -> bool:
    """The rule semantics written out plainly, independent of compile.py and columnar.py."""
    if "all" in cond:
        return all([reference(x, c, segs) for x in cond["all"]])
    if "any" in cond:
        return any([reference(x, c, segs) for x in cond["any"]])
    if "not" in cond:
        return not reference(cond["not"], c, segs)
    if "always" in cond:
        return bool(cond["always"])
    if "segment" in cond:
        return segs[cond["segment"]]
    name = cond["field"]
    ((op, x),) = ((k, v) for k, v in cond.items() if k != "field")
    v = normalise(c.get(name), TYPES[name])
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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(conditions, min_size=1, max_size=3),
    contacts=st.lists(contact, min_size=1, max_size=12),
    ref_rule=conditions,
)
def test_closures_columnar_and_reference_agree(
    rules: list[dict[str, Any]], contacts: list[dict[str, Any]], ref_rule: dict[str, Any]
) -> None:
    segments = [{"key": f"r{i}", "model": "behavioral", "when": r} for i, r in enumerate(rules)]
    # one segment that refers to the others, to cover references on both paths
    segments.append(
        {"key": "refs", "model": "behavioral", "when": {"any": [{"segment": "r0"}, ref_rule]}}
    )
    rs = loads_mappings(yaml.safe_dump(FIELDS), yaml.safe_dump({"segments": segments}))
    one = compile_rules(rs, NOW)
    closures = [one(c).segments for c in contacts]
    columnar = [a.segments for a in assign(rs, contacts, NOW).assignments()]
    expected = []
    for c in contacts:
        segs = {f"r{i}": reference(r, c, {}) for i, r in enumerate(rules)}
        segs["refs"] = reference({"any": [{"segment": "r0"}, ref_rule]}, c, segs)
        expected.append(frozenset(k for k, v in segs.items() if v))
    assert closures == expected
    assert columnar == expected


@settings(max_examples=200, deadline=None)
@given(values=st.lists(any_value, min_size=1, max_size=20), ftype=st.sampled_from(list(FieldType)))
def test_column_typing_equals_value_typing(values: list[Any], ftype: FieldType) -> None:
    from syncd.segments.typing_columns import typed_series

    got = typed_series("f", values, ftype, len(values)).to_list()
    assert got == [normalise(v, ftype) for v in values]
