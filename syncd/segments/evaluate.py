"""The rule evaluator: the rule AST compiled into polars expressions over typed columns.

The sync, `explain` and the analytics all evaluate through this module, so they cannot
disagree. Every comparison is null-safe (a missing value is false, except `exists: false`), so
`all`/`any`/`not` work on plain two-valued booleans. Units (the journey, each segment's rule,
each exclusive group) run level by level in dependency order, one polars pass per level, and
write their results into slot columns that later references read.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from syncd.segments import refs
from syncd.segments.derived import derive
from syncd.segments.fields import FieldType
from syncd.segments.holdout import held_out, id_hashes
from syncd.segments.rules import All, AnyOf, Cmp, Cond, Not, Ref
from syncd.segments.ruleset import RuleSet
from syncd.segments.typing_columns import Profiles, columns_of, typed_series

#: Slot of the contact's journey stage (String, null when no stage matched).
JOURNEY_SLOT = "@journey"
#: Placeholder column that gives a frame its height when the rules read no field.
ROWS_COL = "@rows"


def holdout_col(key: str) -> str:
    """Column of `BatchResult.frame`: the member is held out of the segment's targets."""
    return f"@holdout:{key}"


def success_col(key: str) -> str:
    """Column of `BatchResult.frame`: the segment's `success.when` holds for the contact."""
    return f"@success:{key}"


def segment_slot(key: str) -> str:
    """Slot of a segment's final membership (after its exclusive group)."""
    return f"@seg:{key}"


def raw_slot(key: str) -> str:
    """Slot of an exclusive segment's own match, before its group is resolved."""
    return f"@raw:{key}"


def _within_days(c: pl.Expr, days: float, now: datetime) -> pl.Expr:
    span = timedelta(days=days)
    return c.is_between(pl.lit(now - span), pl.lit(now + span), closed="both")


#: Operator -> (typed column, parsed operand, clock) -> boolean expression; nulls are handled
#: by `compare`. The parser accepts exactly these operators (a unit test checks it).
OPERATORS: dict[str, Callable[[pl.Expr, Any, datetime], pl.Expr]] = {
    "eq": lambda c, x, now: c == x,
    "ne": lambda c, x, now: c != x,
    "in": lambda c, x, now: c.is_in(sorted(x)),
    "not_in": lambda c, x, now: ~c.is_in(sorted(x)) & c.is_not_null(),
    "gt": lambda c, x, now: c > pl.lit(x),
    "after": lambda c, x, now: c > pl.lit(x),
    "gte": lambda c, x, now: c >= x,
    "lt": lambda c, x, now: c < pl.lit(x),
    "before": lambda c, x, now: c < pl.lit(x),
    "lte": lambda c, x, now: c <= x,
    "between": lambda c, x, now: c.is_between(x[0], x[1], closed="both"),
    "contains": lambda c, x, now: c.str.to_lowercase().str.contains(x, literal=True),
    "within_days": _within_days,
    "older_than_days": lambda c, x, now: c < pl.lit(now - timedelta(days=x)),
    "exists": lambda c, x, now: c.is_not_null() if x else c.is_null(),
}


def compare(cmp: Cmp, now: datetime) -> pl.Expr:
    """One comparison as a null-safe boolean expression over the field's typed column."""
    if cmp.op == "contains" and cmp.ftype is FieldType.LIST:
        items = pl.col(cmp.field).list.eval(pl.element().str.to_lowercase())
        expr = items.list.contains(pl.lit(cmp.operand))
    else:
        expr = OPERATORS[cmp.op](pl.col(cmp.field), cmp.operand, now)
    if cmp.op == "exists":
        return expr
    out: pl.Expr = expr.fill_null(False)
    return out


def condition(cond: Cond, now: datetime, nodes: dict[str, pl.Expr] | None = None) -> pl.Expr:
    """A condition tree as one boolean expression over typed columns and earlier slots.

    Args:
        cond: The parsed condition.
        now: The clock for relative dates.
        nodes: When given, receives every node's own expression under the node's path
            (`segments[3].when.all[1]`); `explain` evaluates them to trace each node.
    """
    expr: pl.Expr
    if isinstance(cond, Cmp):
        expr = compare(cond, now)
    elif isinstance(cond, All | AnyOf):
        parts = [condition(c, now, nodes) for c in cond.items]
        if isinstance(cond, All):
            expr = functools.reduce(operator.and_, parts) if parts else pl.lit(True)
        else:
            expr = functools.reduce(operator.or_, parts) if parts else pl.lit(False)
    elif isinstance(cond, Not):
        expr = ~condition(cond.item, now, nodes)
    elif isinstance(cond, Ref):
        stage = cond.journey_stage
        if stage is not None:
            expr = (pl.col(JOURNEY_SLOT) == stage).fill_null(False)
        else:
            expr = pl.col(segment_slot(cond.target))
    else:
        expr = pl.lit(cond.value)
    if nodes is not None:
        nodes[cond.path] = expr
    return expr


class Assignment(NamedTuple):
    """Where one contact lands: its journey stage and its final segment set.

    `segments` holds final memberships (exclusive groups already resolved).
    """

    journey_stage: str | None
    segments: frozenset[str]


@dataclass(frozen=True)
class BatchResult:
    """Assignments of one batch, kept columnar.

    Attributes:
        keys: Segment keys in file order.
        frame: `journey` (String, null when no stage matched) and one Boolean column per
            segment key holding final membership, one row per input contact, in input order;
            plus `holdout_col(key)` for segments with a holdout (when ids were given: true for
            held-out members) and `success_col(key)` for segments with a success condition.
        typed: The typed field columns the rules, success conditions and KPIs read, and the
            derived fields they use (analytics and the snapshots reuse them).
    """

    keys: tuple[str, ...]
    frame: pl.DataFrame
    typed: pl.DataFrame

    def __len__(self) -> int:
        return self.frame.height

    def journey(self) -> list[str | None]:
        """Journey stage per contact."""
        return self.frame["journey"].to_list()

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


def assign(
    rules: RuleSet,
    profiles: Profiles,
    now: datetime,
    *,
    ids: Sequence[int | str] | None = None,
) -> BatchResult:
    """Assign every profile its journey stage and final segments: the evaluator the sync uses.

    Args:
        rules: The loaded rules.
        profiles: Canonical profiles (field name -> raw value as the sources send it), as a
            list of rows or a dict of columns; values are typed on the way in.
        now: The clock for relative dates (`within_days`, `older_than_days`).
        ids: The profiles' stable ids, in the same order; with them, the members each
            segment's `holdout` keeps out of its targets are marked (see `holdout`).
    """
    return assign_typed(rules, typed_frame(rules, profiles, now), now, ids=ids)


def assign_typed(
    rules: RuleSet,
    typed: pl.DataFrame,
    now: datetime,
    *,
    ids: Sequence[int | str] | None = None,
) -> BatchResult:
    """`assign` over columns already typed: what the sync uses, which types stored profiles itself.

    Args:
        rules: The loaded rules.
        typed: What `typed_frame` gives: one typed column per `rules.typed_fields` and the
            derived fields (see `with_derived`).
        now: The clock for relative dates.
        ids: As for `assign`.
    """
    extra = [
        condition(s.success.when, now).alias(success_col(s.key))
        for s in rules.segments
        if s.success is not None
    ]
    frame = (
        resolve(rules, typed.lazy(), now)
        .select(
            pl.col(JOURNEY_SLOT).alias("journey"),
            *(pl.col(segment_slot(k)).alias(k) for k in rules.keys),
            *extra,
        )
        .collect()
    )
    if ids is not None:
        if len(ids) != frame.height:
            raise ValueError(f"{len(ids)} ids for {frame.height} profiles")
        frame = frame.with_columns(_holdouts(rules, frame, ids))
    return BatchResult(rules.keys, frame, typed)


def _holdouts(rules: RuleSet, frame: pl.DataFrame, ids: Sequence[int | str]) -> list[pl.Series]:
    """One `holdout_col` per segment with a holdout; only members are hashed."""
    out: list[pl.Series] = []
    hashes = None
    for seg in rules.segments:
        if not seg.holdout:
            continue
        if hashes is None:
            hashes = id_hashes(ids)
        members = frame[seg.key].arg_true().to_numpy()
        held = members[held_out(hashes[members], seg.key, seg.holdout)]
        mask = np.zeros(frame.height, dtype=np.bool_)
        mask[held] = True
        out.append(pl.Series(holdout_col(seg.key), mask))
    return out


def typed_frame(rules: RuleSet, profiles: Profiles, now: datetime) -> pl.DataFrame:
    """The typed column of every field the rules read, then the derived fields, per profile."""
    names = rules.typed_fields
    n, cols = columns_of(profiles, names)
    typed = [typed_series(name, cols[name], rules.fields[name].type, n) for name in names]
    return with_derived(rules, typed, n, now)


def with_derived(rules: RuleSet, typed: Sequence[pl.Series], n: int, now: datetime) -> pl.DataFrame:
    """The frame the evaluator reads: the typed field columns (`n` rows), then derived fields."""
    if not typed:  # polars frames need a column to have a height
        frame = pl.DataFrame({ROWS_COL: pl.repeat(0, n, dtype=pl.Int8, eager=True)})
    else:
        frame = pl.DataFrame(typed)
    return derive(frame, rules.derived_fields, now) if rules.derived_fields else frame


def resolve(
    rules: RuleSet,
    typed: pl.LazyFrame,
    now: datetime,
    nodes: dict[str, pl.Expr] | None = None,
) -> pl.LazyFrame:
    """`typed` plus every slot: the journey stage, each segment's raw and final membership.

    Exclusive groups keep the highest-priority raw match per row (`rules.groups` is already
    in priority order). With `nodes`, every rule node's expression is also collected there
    (see `condition`); `explain` adds them as columns on top of this same frame.
    """
    frame = typed
    for level in rules.levels:
        exprs: list[pl.Expr] = []
        for unit in level:
            if unit == refs.JOURNEY:
                exprs.append(_journey(rules, now, nodes).alias(JOURNEY_SLOT))
            elif unit.startswith(refs.SEGMENT_PREFIX):
                seg = rules.segment_by_key[unit.removeprefix(refs.SEGMENT_PREFIX)]
                slot = raw_slot(seg.key) if seg.exclusive else segment_slot(seg.key)
                exprs.append(condition(seg.when, now, nodes).alias(slot))
            else:
                taken: pl.Expr = pl.lit(False)
                for key in rules.groups[unit.removeprefix(refs.GROUP_PREFIX)]:
                    exprs.append((pl.col(raw_slot(key)) & ~taken).alias(segment_slot(key)))
                    taken = taken | pl.col(raw_slot(key))
        frame = frame.with_columns(exprs)
    return frame


def _journey(rules: RuleSet, now: datetime, nodes: dict[str, pl.Expr] | None) -> pl.Expr:
    if not rules.stages:
        return pl.lit(None, dtype=pl.String)
    first, *rest = rules.stages
    chain: Any = pl.when(condition(first.when, now, nodes)).then(pl.lit(first.key))
    for stage in rest:
        chain = chain.when(condition(stage.when, now, nodes)).then(pl.lit(stage.key))
    return chain.otherwise(pl.lit(None, dtype=pl.String)).cast(pl.String)  # type: ignore[no-any-return]
