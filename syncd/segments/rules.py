"""The rule AST and its parser: raw YAML `when:` values -> typed, validated conditions.

The grammar (DESIGN.md, "Mappings"): `{field: NAME, OP: VALUE}` with exactly one operator,
`{all: [...]}`, `{any: [...]}`, `{not: COND}`, `{segment: KEY}` / `{segment: journey/STAGE}` and
`{always: true|false}`. Operands are checked against the field's type here, once, so evaluation
never meets a type question. Nothing is ever evaluated as code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Union

from syncd.segments.fields import FieldCatalog, FieldType

OPS_BY_TYPE: dict[FieldType, tuple[str, ...]] = {
    FieldType.STRING: ("eq", "ne", "in", "not_in", "contains", "exists"),
    FieldType.NUMBER: ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists"),
    FieldType.BOOLEAN: ("eq", "ne", "exists"),
    FieldType.DATETIME: ("before", "after", "within_days", "older_than_days", "exists"),
    FieldType.LIST: ("contains", "exists"),
}
ALL_OPS = (
    *("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "exists"),
    *("within_days", "older_than_days", "before", "after"),
)
COMBINATORS = ("all", "any", "not", "segment", "always")
JOURNEY_PREFIX = "journey/"


@dataclass(frozen=True, slots=True)
class Cmp:
    """`{field: NAME, OP: operand}`; the operand is already typed (float, str, datetime...)."""

    field: str
    op: str
    operand: Any
    ftype: FieldType
    path: str


@dataclass(frozen=True, slots=True)
class All:
    """True when every item is true (true when empty)."""

    items: tuple[Cond, ...]
    path: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when at least one item is true (false when empty)."""

    items: tuple[Cond, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Not:
    """Plain negation: `not` of a false comparison on a missing value is true."""

    item: Cond
    path: str


@dataclass(frozen=True, slots=True)
class Ref:
    """Membership of another segment (after its exclusive group) or a journey stage."""

    target: str
    path: str

    @property
    def journey_stage(self) -> str | None:
        """The stage key for `journey/STAGE`, else None."""
        if self.target.startswith(JOURNEY_PREFIX):
            return self.target[len(JOURNEY_PREFIX) :]
        return None


@dataclass(frozen=True, slots=True)
class Always:
    """A constant."""

    value: bool
    path: str


Cond = Union[Cmp, All, AnyOf, Not, Ref, Always]  # noqa: UP007 - runtime alias for dataclasses


def walk(cond: Cond) -> list[Cond]:
    """Every node of a condition tree, depth first."""
    out: list[Cond] = [cond]
    if isinstance(cond, All | AnyOf):
        for item in cond.items:
            out.extend(walk(item))
    elif isinstance(cond, Not):
        out.extend(walk(cond.item))
    return out


def fields_used(cond: Cond) -> set[str]:
    """Canonical fields a condition reads (not through references)."""
    return {n.field for n in walk(cond) if isinstance(n, Cmp)}


def fingerprint(cond: Cond) -> str:
    """A short hash of what a condition says, ignoring where it sits in the file.

    Equal for the same rule after unrelated edits (which shift paths), different after any
    change to the rule itself; the segment history uses it to tell a refined rule.
    """

    def canonical(c: Cond) -> Any:
        if isinstance(c, Cmp):
            operand = sorted(map(str, c.operand)) if isinstance(c.operand, frozenset) else c.operand
            return ["field", c.field, c.op, str(operand)]
        if isinstance(c, All | AnyOf):
            return ["all" if isinstance(c, All) else "any", [canonical(i) for i in c.items]]
        if isinstance(c, Not):
            return ["not", canonical(c.item)]
        if isinstance(c, Ref):
            return ["segment", c.target]
        return ["always", c.value]

    text = json.dumps(canonical(cond), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def refs_used(cond: Cond) -> list[Ref]:
    """Segment and journey references in a condition."""
    return [n for n in walk(cond) if isinstance(n, Ref)]


#: How deep `all`/`any`/`not` may nest. Real rules stay under 10; the limit keeps a generated or
#: mistaken file from exhausting the interpreter's stack while it is read or evaluated.
MAX_DEPTH = 32


class ConditionParser:
    """Parses `when:` values, appending `path: message` problems instead of raising.

    Args:
        fields: The loaded field map (names and types).
        problems: Where problems go; each already prefixed with the file name.
        filename: Shown in front of every problem.
    """

    def __init__(self, fields: FieldCatalog, problems: list[str], filename: str) -> None:
        self.fields = fields
        self.problems = problems
        self.filename = filename

    def problem(self, path: str, message: str) -> None:
        """Record one problem at `path`."""
        self.problems.append(f"{self.filename}: {path}: {message}")

    def parse(self, raw: Any, path: str, depth: int = 0) -> Cond | None:
        """The condition at `path`, or None after recording why it is invalid."""
        if depth > MAX_DEPTH:
            self.problem(path, f"conditions nested deeper than {MAX_DEPTH} levels")
            return None
        if not isinstance(raw, dict):
            self.problem(path, f"expected a condition mapping, got {_kind(raw)}")
            return None
        if "field" in raw:
            return self._comparison(raw, path)
        present = [k for k in COMBINATORS if k in raw]
        if len(present) != 1 or len(raw) != 1:
            unknown = [str(k) for k in raw if k not in COMBINATORS]
            if unknown:
                self.problem(
                    path,
                    f"unknown key {unknown[0]!r} (expected 'field' with one operator, or one of: "
                    + ", ".join(COMBINATORS)
                    + ")",
                )
            else:
                self.problem(path, f"expected exactly one of {', '.join(COMBINATORS)}")
            return None
        return self._combinator(present[0], raw[present[0]], path, depth)

    def _combinator(self, key: str, value: Any, path: str, depth: int) -> Cond | None:
        """`all`, `any`, `not`, `segment` or `always` with its value."""
        if key in ("all", "any"):
            if not isinstance(value, list):
                self.problem(f"{path}.{key}", f"expected a list of conditions, got {_kind(value)}")
                return None
            items = [self.parse(v, f"{path}.{key}[{i}]", depth + 1) for i, v in enumerate(value)]
            if any(i is None for i in items):
                return None
            clean = tuple(i for i in items if i is not None)
            return All(clean, path) if key == "all" else AnyOf(clean, path)
        if key == "not":
            inner = self.parse(value, f"{path}.not", depth + 1)
            return None if inner is None else Not(inner, path)
        if key == "segment":
            if not isinstance(value, str) or not value:
                self.problem(f"{path}.segment", f"expected a segment key, got {_kind(value)}")
                return None
            return Ref(value, path)
        if not isinstance(value, bool):
            self.problem(f"{path}.always", f"expected true or false, got {_kind(value)}")
            return None
        return Always(value, path)

    def _comparison(self, raw: dict[Any, Any], path: str) -> Cmp | None:
        name = raw["field"]
        if not isinstance(name, str) or name not in self.fields:
            known = ", ".join(self.fields)
            self.problem(f"{path}.field", f"unknown field {name!r} (known: {known})")
            return None
        ftype = self.fields[name].type
        others = [k for k in raw if k != "field"]
        unknown = [str(k) for k in others if k not in ALL_OPS]
        if unknown:
            self.problem(
                path, f"unknown operator {unknown[0]!r} (expected one of: {' '.join(ALL_OPS)})"
            )
            return None
        if len(others) != 1:
            self.problem(
                path,
                f"expected exactly one operator next to 'field', got {len(others)}"
                + (f" ({', '.join(map(str, others))})" if others else ""),
            )
            return None
        op = str(others[0])
        if op not in OPS_BY_TYPE[ftype]:
            self.problem(
                f"{path}.{op}",
                f"operator {op!r} does not apply to {ftype.value} field {name!r} "
                f"(allowed: {', '.join(OPS_BY_TYPE[ftype])})",
            )
            return None
        operand = self._operand(op, ftype, raw[op], f"{path}.{op}")
        if operand is _BAD:
            return None
        return Cmp(name, op, operand, ftype, path)

    def _operand(self, op: str, ftype: FieldType, value: Any, path: str) -> Any:
        if op == "exists":
            return value if isinstance(value, bool) else self._bad(path, "true or false", value)
        if op in ("within_days", "older_than_days"):
            if _is_number(value) and value >= 0:
                return float(value)
            return self._bad(path, "a number of days >= 0", value)
        if op in ("before", "after"):
            parsed = _iso(value)
            return parsed if parsed is not None else self._bad(path, "an ISO date", value)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                return self._bad(path, f"a non-empty list of {ftype.value} values", value)
            items = [self._scalar(ftype, v, f"{path}[{i}]") for i, v in enumerate(value)]
            return _BAD if any(i is _BAD for i in items) else frozenset(items)
        if op == "between":
            if not isinstance(value, list) or len(value) != 2 or not all(map(_is_number, value)):
                return self._bad(path, "two numbers, low and high", value)
            low, high = float(value[0]), float(value[1])
            if low > high:
                return self._bad(path, "[low, high] with low <= high", value)
            return (low, high)
        if op == "contains":
            if isinstance(value, str) and value:
                return value.lower()
            return self._bad(path, "non-empty text", value)
        return self._scalar(ftype, value, path)

    def _scalar(self, ftype: FieldType, value: Any, path: str) -> Any:
        if ftype is FieldType.NUMBER:
            return float(value) if _is_number(value) else self._bad(path, "a number", value)
        if ftype is FieldType.BOOLEAN:
            return value if isinstance(value, bool) else self._bad(path, "true or false", value)
        if isinstance(value, str):
            return value
        return self._bad(path, "text (quote numbers meant as text)", value)

    def _bad(self, path: str, expected: str, value: Any) -> Any:
        self.problem(path, f"expected {expected}, got {_kind(value)}")
        return _BAD


_BAD = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _iso(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):  # YAML reads 2024-01-31 as a date
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _iso(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {value}".lower()
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
