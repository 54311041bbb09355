"""Per-contact evaluation: each condition compiled once into a Python closure.

This path serves single contacts, small batches, and `explain` (which shares `leaf`). Large
batches go through `columnar.py`; a property test keeps the two in agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from syncd.segments import refs
from syncd.segments.evaluate import Assignment
from syncd.segments.fields import NORMALISERS
from syncd.segments.rules import All, AnyOf, Cmp, Cond, Not, Ref
from syncd.segments.ruleset import RuleSet

Ctx = dict[str, Any]
Pred = Callable[[Ctx], bool]
JOURNEY_KEY = "@journey"


def seg_key(key: str) -> str:
    """Context slot of a segment's final membership."""
    return f"@seg:{key}"


def raw_key(key: str) -> str:
    """Context slot of a segment's raw (pre-group) match."""
    return f"@raw:{key}"


def leaf(cmp: Cmp, now: datetime) -> Callable[[Any], bool]:
    """The test one comparison applies to a typed value; None (missing) fails all but exists."""
    op, x = cmp.op, cmp.operand
    if op == "exists":
        return (lambda v: v is not None) if x else (lambda v: v is None)
    if op == "eq":
        return lambda v: v is not None and v == x
    if op == "ne":
        return lambda v: v is not None and v != x
    if op == "in":
        return lambda v: v is not None and v in x
    if op == "not_in":
        return lambda v: v is not None and v not in x
    if op in ("gt", "after"):
        return lambda v: v is not None and v > x
    if op == "gte":
        return lambda v: v is not None and v >= x
    if op in ("lt", "before"):
        return lambda v: v is not None and v < x
    if op == "lte":
        return lambda v: v is not None and v <= x
    if op == "between":
        lo, hi = x
        return lambda v: v is not None and lo <= v <= hi
    if op == "contains":
        return lambda v: v is not None and x in v.lower()
    if op == "within_days":
        lo_dt, hi_dt = now - timedelta(days=x), now + timedelta(days=x)
        return lambda v: v is not None and lo_dt <= v <= hi_dt
    if op == "older_than_days":
        cut = now - timedelta(days=x)
        return lambda v: v is not None and v < cut
    raise AssertionError(f"unhandled operator {op}")  # the parser rejects unknown ops


def compile_cond(cond: Cond, now: datetime) -> Pred:
    """A predicate over a context holding typed field values and earlier results."""
    if isinstance(cond, Cmp):
        test, name = leaf(cond, now), cond.field
        return lambda ctx: test(ctx[name])
    if isinstance(cond, All):
        parts = [compile_cond(c, now) for c in cond.items]
        return lambda ctx: all(p(ctx) for p in parts)
    if isinstance(cond, AnyOf):
        parts = [compile_cond(c, now) for c in cond.items]
        return lambda ctx: any(p(ctx) for p in parts)
    if isinstance(cond, Not):
        inner = compile_cond(cond.item, now)
        return lambda ctx: not inner(ctx)
    if isinstance(cond, Ref):
        stage = cond.journey_stage
        if stage is not None:
            return lambda ctx: ctx[JOURNEY_KEY] == stage
        slot = seg_key(cond.target)
        return lambda ctx: bool(ctx[slot])
    value = cond.value
    return lambda ctx: value


def compile_steps(ruleset: RuleSet, now: datetime) -> Callable[[Mapping[str, Any]], Ctx]:
    """A function from a raw contact to its full context (typed values, raw and final results)."""
    typing = [(name, NORMALISERS[ruleset.fields[name].type]) for name in ruleset.used_fields]
    by_key = {s.key: s for s in ruleset.segments}
    steps: list[Callable[[Ctx], None]] = []
    for unit in ruleset.units:
        if unit == refs.JOURNEY:
            stages = [(s.key, compile_cond(s.when, now)) for s in ruleset.stages]
            steps.append(_journey_step(stages))
        elif unit.startswith("segment:"):
            seg = by_key[unit.removeprefix("segment:")]
            steps.append(_segment_step(seg.key, seg.exclusive is None, compile_cond(seg.when, now)))
        else:
            steps.append(_group_step(ruleset.groups[unit.removeprefix("group:")]))

    def run(contact: Mapping[str, Any]) -> Ctx:
        ctx: Ctx = {name: norm(contact.get(name)) for name, norm in typing}
        for step in steps:
            step(ctx)
        return ctx

    return run


def compile_rules(ruleset: RuleSet, now: datetime) -> Callable[[Mapping[str, Any]], Assignment]:
    """A function from a raw contact to its `Assignment`."""
    run = compile_steps(ruleset, now)
    slots = [(s.key, seg_key(s.key)) for s in ruleset.segments]

    def assign(contact: Mapping[str, Any]) -> Assignment:
        ctx = run(contact)
        return Assignment(ctx[JOURNEY_KEY], frozenset(k for k, slot in slots if ctx[slot]))

    return assign


def _journey_step(stages: list[tuple[str, Pred]]) -> Callable[[Ctx], None]:
    def step(ctx: Ctx) -> None:
        ctx[JOURNEY_KEY] = next((key for key, pred in stages if pred(ctx)), None)

    return step


def _segment_step(key: str, final: bool, pred: Pred) -> Callable[[Ctx], None]:
    raw, fin = raw_key(key), seg_key(key)

    def step(ctx: Ctx) -> None:
        ctx[raw] = hit = pred(ctx)
        if final:
            ctx[fin] = hit

    return step


def _group_step(members: tuple[str, ...]) -> Callable[[Ctx], None]:
    slots = [(raw_key(k), seg_key(k)) for k in members]

    def step(ctx: Ctx) -> None:
        taken = False
        for raw, fin in slots:
            hit = ctx[raw] and not taken
            ctx[fin] = hit
            taken = taken or hit

    return step
