"""Every operator against present, missing and wrongly typed values, through `assign` and
`explain`.
"""

from __future__ import annotations

from typing import Any

import pytest
from segkit import assigned, one

from syncd.segments.evaluate import OPERATORS
from syncd.segments.rules import ALL_OPS, OPS_BY_TYPE

MISSING = object()

CASES: list[tuple[str, str, Any, Any, bool]] = [
    # field, op, operand, value, expected
    ("s", "eq", "a", "a", True),
    ("s", "eq", "a", "b", False),
    ("s", "eq", "a", MISSING, False),
    ("s", "eq", "a", "", False),  # empty text is missing
    ("s", "eq", "5", 5, True),  # numbers are rendered as text in a string field
    ("s", "eq", "a", ["a"], False),  # wrong type: missing
    ("s", "ne", "a", "b", True),
    ("s", "ne", "a", "a", False),
    ("s", "ne", "a", MISSING, False),
    ("s", "in", ["a", "b"], "b", True),
    ("s", "in", ["a", "b"], "c", False),
    ("s", "in", ["a", "b"], MISSING, False),
    ("s", "not_in", ["a", "b"], "c", True),
    ("s", "not_in", ["a", "b"], "a", False),
    ("s", "not_in", ["a", "b"], MISSING, False),
    ("s", "contains", "Eng", "Senior engineer", True),
    ("s", "contains", "eng", "Sales", False),
    ("s", "contains", "eng", MISSING, False),
    ("s", "contains", "eng", {"x": 1}, False),
    ("s", "exists", True, "a", True),
    ("s", "exists", True, MISSING, False),
    ("s", "exists", True, "", False),
    ("s", "exists", False, MISSING, True),
    ("s", "exists", False, "", True),
    ("s", "exists", False, "a", False),
    ("n", "eq", 3, 3, True),
    ("n", "eq", 3, "3", True),  # HubSpot sends numbers as text
    ("n", "eq", 3, " 3.0 ", True),
    ("n", "eq", 3, 4, False),
    ("n", "eq", 3, MISSING, False),
    ("n", "eq", 3, "three", False),  # wrong type: missing
    ("n", "eq", 1, True, False),  # booleans are not numbers
    ("n", "ne", 3, 4, True),
    ("n", "ne", 3, "x", False),
    ("n", "in", [1, 2], 2.0, True),
    ("n", "in", [1, 2], 3, False),
    ("n", "not_in", [1, 2], 3, True),
    ("n", "not_in", [1, 2], MISSING, False),
    ("n", "gt", 5, 6, True),
    ("n", "gt", 5, 5, False),
    ("n", "gt", 5, MISSING, False),
    ("n", "gt", 5, "lots", False),
    ("n", "gte", 5, 5, True),
    ("n", "gte", 5, "4.9", False),
    ("n", "lt", 5, 4, True),
    ("n", "lt", 5, MISSING, False),
    ("n", "lt", 5, float("nan"), False),
    ("n", "lte", 5, 5, True),
    ("n", "lte", 5, 6, False),
    ("n", "between", [1, 3], 1, True),
    ("n", "between", [1, 3], 3, True),
    ("n", "between", [1, 3], 3.01, False),
    ("n", "between", [1, 3], MISSING, False),
    ("n", "exists", True, 0, True),
    ("n", "exists", False, "n/a", True),
    ("b", "eq", True, True, True),
    ("b", "eq", True, "true", True),
    ("b", "eq", True, False, False),
    ("b", "eq", True, MISSING, False),
    ("b", "eq", True, "maybe", False),
    ("b", "ne", True, False, True),
    ("b", "ne", True, MISSING, False),
    ("b", "exists", False, MISSING, True),
    ("d", "before", "2026-01-01", "2025-12-31T23:59:59Z", True),
    ("d", "before", "2026-01-01", "2026-01-01", False),
    ("d", "before", "2026-01-01", MISSING, False),
    ("d", "before", "2026-01-01", "not a date", False),
    ("d", "after", "2026-01-01", "2026-01-01T00:00:01+00:00", True),
    ("d", "after", "2026-01-01", "2026-01-01T01:00:00+02:00", False),  # 23:00 UTC the day before
    ("d", "after", "2026-01-01", 20260101, False),  # a number is not a date
    ("d", "within_days", 30, "2026-06-15T00:00:00Z", True),
    ("d", "within_days", 30, "2026-07-20T00:00:00Z", True),  # future dates count too
    ("d", "within_days", 30, "2026-05-01T00:00:00Z", False),
    ("d", "within_days", 30, MISSING, False),
    ("d", "within_days", 30, "2026-06-15 00:00", True),  # space separator, naive = UTC
    ("d", "older_than_days", 30, "2026-05-01", True),
    ("d", "older_than_days", 30, "2026-06-15", False),
    ("d", "older_than_days", 30, "2027-01-01", False),
    ("d", "older_than_days", 30, MISSING, False),
    ("d", "exists", True, "2026-01-01", True),
    ("d", "exists", False, "garbage", True),
]


@pytest.mark.parametrize(("field", "op", "operand", "value", "expected"), CASES)
def test_operator(field: str, op: str, operand: Any, value: Any, expected: bool) -> None:
    rs = one({"field": field, op: operand})
    contact = {} if value is MISSING else {field: value}
    [(_, segments)] = assigned(rs, [contact])
    assert ("x" in segments) is expected


@pytest.mark.parametrize("value", [MISSING, "", "junk"], ids=["missing", "empty", "wrong-type"])
def test_not_of_a_missing_value_is_true(value: Any) -> None:
    rs = one({"not": {"field": "n", "gt": 1}})
    contact = {} if value is MISSING else {"n": value}
    assert assigned(rs, [contact]) == [(None, frozenset({"x"}))]


def test_every_operator_of_the_language_has_one_implementation_and_cases() -> None:
    assert set(OPERATORS) == set(ALL_OPS)
    assert {op for ops in OPS_BY_TYPE.values() for op in ops} == set(ALL_OPS)
    assert {op for _, op, *_ in CASES} == set(ALL_OPS)
