"""Dependency order between the journey, segments and exclusive groups; cycles are errors.

Evaluation works in units: `journey` (all stages, first match wins), `segment:KEY` (the raw
rule) and `group:NAME` (resolves an exclusive group, giving its members' final membership).
A reference to a segment in a group depends on the group unit, because membership there is only
known once every member has been evaluated; so a segment that refers to a member of its own
group is a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

JOURNEY = "journey"
SEGMENT_PREFIX = "segment:"
GROUP_PREFIX = "group:"


def segment_unit(key: str) -> str:
    """The unit name of a segment's raw rule."""
    return f"{SEGMENT_PREFIX}{key}"


def group_unit(name: str) -> str:
    """The unit name of an exclusive group's resolution."""
    return f"{GROUP_PREFIX}{name}"


def final_unit(key: str, group_of: Mapping[str, str | None]) -> str:
    """The unit whose completion makes `key`'s final membership known."""
    group = group_of.get(key)
    return group_unit(group) if group else segment_unit(key)


def order_units(deps: Mapping[str, Sequence[str]]) -> tuple[list[str], list[list[str]]]:
    """A stable topological order of `deps` (unit -> units it needs) and every cycle found.

    Returns:
        (order, cycles): `order` lists every unit not on a cycle after its dependencies, in
        the input order where free; each cycle is a list of units ending where it started.
    """
    state: dict[str, int] = {}  # 1 visiting, 2 done
    order: list[str] = []
    cycles: list[list[str]] = []
    stack: list[str] = []

    def visit(unit: str) -> bool:
        mark = state.get(unit)
        if mark == 2:
            return True
        if mark == 1:
            cycles.append([*stack[stack.index(unit) :], unit])
            return False
        state[unit] = 1
        stack.append(unit)
        ok = True
        for dep in deps.get(unit, ()):
            ok = visit(dep) and ok
        stack.pop()
        state[unit] = 2
        if ok:
            order.append(unit)
        return ok

    for unit in deps:
        visit(unit)
    return order, cycles


def levels(order: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """`order` cut into levels: every unit's dependencies are in earlier levels."""
    depth: dict[str, int] = {}
    out: list[list[str]] = []
    for unit in order:
        d = 1 + max((depth[x] for x in deps.get(unit, ())), default=-1)
        depth[unit] = d
        if d == len(out):
            out.append([])
        out[d].append(unit)
    return out
