"""Batch evaluation: the rule AST compiled into polars expressions over typed columns.

Same semantics as `compile.py` (a property test checks the two agree): every comparison is
null-safe (a missing value is false, except `exists: false`), so `all`/`any`/`not` work on plain
two-valued booleans. Units run level by level in dependency order; exclusive groups keep the
highest-priority raw match per row.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from syncd.segments import refs
from syncd.segments.rules import All, AnyOf, Cmp, Cond, Not, Ref
from syncd.segments.ruleset import Assignment, RuleSet
from syncd.segments.typing_columns import columns_of, typed_series

JOURNEY_COL = "@journey"
ROWS_COL = "@rows"


def _seg(key: str) -> str:
    return f"@seg:{key}"


def _raw(key: str) -> str:
    return f"@raw:{key}"


def cmp_expr(cmp: Cmp, now: datetime) -> pl.Expr:
    """One comparison as a null-safe boolean expression."""
    c, op, x = pl.col(cmp.field), cmp.op, cmp.operand
    if op == "exists":
        return c.is_not_null() if x else c.is_null()
    if op == "eq":
        e = c == x
    elif op == "ne":
        e = c != x
    elif op == "in":
        e = c.is_in(sorted(x))
    elif op == "not_in":
        e = ~c.is_in(sorted(x)) & c.is_not_null()
    elif op in ("gt", "after"):
        e = c > pl.lit(x)
    elif op == "gte":
        e = c >= x
    elif op in ("lt", "before"):
        e = c < pl.lit(x)
    elif op == "lte":
        e = c <= x
    elif op == "between":
        e = c.is_between(x[0], x[1], closed="both")
    elif op == "contains":
        e = c.str.to_lowercase().str.contains(x, literal=True)
    elif op == "within_days":
        span = timedelta(days=x)
        e = c.is_between(pl.lit(now - span), pl.lit(now + span), closed="both")
    elif op == "older_than_days":
        e = c < pl.lit(now - timedelta(days=x))
    else:  # pragma: no cover - the parser rejects unknown operators
        raise AssertionError(op)
    out: pl.Expr = e.fill_null(False)
    return out


def cond_expr(cond: Cond, now: datetime) -> pl.Expr:
    """A condition tree as one boolean expression over typed and earlier result columns."""
    if isinstance(cond, Cmp):
        return cmp_expr(cond, now)
    if isinstance(cond, All):
        parts = [cond_expr(c, now) for c in cond.items]
        return functools.reduce(operator.and_, parts) if parts else pl.lit(True)
    if isinstance(cond, AnyOf):
        parts = [cond_expr(c, now) for c in cond.items]
        return functools.reduce(operator.or_, parts) if parts else pl.lit(False)
    if isinstance(cond, Not):
        return ~cond_expr(cond.item, now)
    if isinstance(cond, Ref):
        stage = cond.journey_stage
        if stage is not None:
            return (pl.col(JOURNEY_COL) == stage).fill_null(False)
        return pl.col(_seg(cond.target))
    return pl.lit(cond.value)


@dataclass(frozen=True)
class BatchResult:
    """Assignments of one batch, kept columnar.

    Attributes:
        keys: Segment keys in file order.
        frame: `journey` (String, null when no stage matched) and one Boolean column per
            segment key holding final membership, one row per input contact, in input order.
        typed: The typed field columns the rules read (analytics reuses them).
    """

    keys: tuple[str, ...]
    frame: pl.DataFrame
    typed: pl.DataFrame

    def __len__(self) -> int:
        return self.frame.height

    def journey(self) -> list[str | None]:
        """Journey stage per contact."""
        return self.frame["journey"].to_list()

    def members(self, key: str) -> list[int]:
        """Row indices of the contacts in segment `key`."""
        return self.frame[key].arg_true().to_list()

    def sizes(self) -> dict[str, int]:
        """Members per segment, in file order."""
        if not self.keys:
            return {}
        row = self.frame.select(pl.col(k).sum() for k in self.keys).row(0)
        return {k: int(v) for k, v in zip(self.keys, row, strict=True)}

    def assignments(self) -> Iterator[Assignment]:
        """One `Assignment` per contact, in input order; equal segment sets share one frozenset."""
        chunks = [self.keys[i : i + 62] for i in range(0, len(self.keys), 62)]
        masks = [
            self.frame.select(
                functools.reduce(
                    operator.add,
                    [pl.col(k).cast(pl.Int64) * (1 << b) for b, k in enumerate(chunk)],
                )
            )
            .to_series()
            .to_list()
            for chunk in chunks
        ]
        cache: dict[tuple[int, ...], frozenset[str]] = {}

        def segset(mask: tuple[int, ...]) -> frozenset[str]:
            found = cache.get(mask)
            if found is None:
                found = frozenset(
                    k
                    for chunk, m in zip(chunks, mask, strict=True)
                    for b, k in enumerate(chunk)
                    if m >> b & 1
                )
                cache[mask] = found
            return found

        rows = zip(*masks, strict=True) if masks else ((),) * len(self)
        for stage, mask in zip(self.journey(), rows, strict=True):
            yield Assignment(stage, segset(tuple(mask)))


def typed_frame(
    ruleset: RuleSet, contacts: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
) -> pl.DataFrame:
    """The typed columns of every field the rules read."""
    names = ruleset.used_fields()
    n, cols = columns_of(contacts, names)
    if not names:  # polars frames need a column to have a height
        return pl.DataFrame({ROWS_COL: pl.repeat(0, n, dtype=pl.Int8, eager=True)})
    return pl.DataFrame(
        [typed_series(name, cols[name], ruleset.fields[name].type, n) for name in names]
    )


def evaluate_columnar(
    ruleset: RuleSet,
    contacts: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    now: datetime,
) -> BatchResult:
    """Assign a batch: type the columns, run each dependency level as one polars pass."""
    typed = typed_frame(ruleset, contacts)
    return evaluate_typed(ruleset, typed, now)


def evaluate_typed(ruleset: RuleSet, typed: pl.DataFrame, now: datetime) -> BatchResult:
    """Assign a batch whose columns are already typed (see `typed_frame`)."""
    by_key = {s.key: s for s in ruleset.segments}
    lf = typed.lazy()
    for level in refs.levels(ruleset.units, ruleset.deps):
        exprs: list[pl.Expr] = []
        for unit in level:
            if unit == refs.JOURNEY:
                exprs.append(_journey_expr(ruleset, now).alias(JOURNEY_COL))
            elif unit.startswith("segment:"):
                seg = by_key[unit.removeprefix("segment:")]
                name = _raw(seg.key) if seg.exclusive else _seg(seg.key)
                exprs.append(cond_expr(seg.when, now).alias(name))
            else:
                taken: pl.Expr = pl.lit(False)
                for key in ruleset.groups[unit.removeprefix("group:")]:
                    exprs.append((pl.col(_raw(key)) & ~taken).alias(_seg(key)))
                    taken = taken | pl.col(_raw(key))
        lf = lf.with_columns(exprs)
    keys = ruleset.keys
    frame = lf.select(
        pl.col(JOURNEY_COL).alias("journey"), *(pl.col(_seg(k)).alias(k) for k in keys)
    ).collect()
    return BatchResult(keys, frame, typed)


def _journey_expr(ruleset: RuleSet, now: datetime) -> pl.Expr:
    if not ruleset.stages:
        return pl.lit(None, dtype=pl.String)
    first, *rest = ruleset.stages
    chain: Any = pl.when(cond_expr(first.when, now)).then(pl.lit(first.key))
    for stage in rest:
        chain = chain.when(cond_expr(stage.when, now)).then(pl.lit(stage.key))
    return chain.otherwise(pl.lit(None, dtype=pl.String)).cast(pl.String)  # type: ignore[no-any-return]
