"""Why one contact is in or out of each stage and segment: verdicts with full condition traces.

Derived from the evaluator, not written beside it: the profile goes through `evaluate.resolve`
as a batch of one, and every node of every rule is evaluated as a column of its own, with the
expression `evaluate.condition` builds for that node inside the rule. A trace records, per node,
the typed value seen, the operator, the operand and the result, all read from those columns, so
`explain` cannot disagree with the sync. Powers `syncd segments explain EMAIL` and the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl

from syncd.segments.evaluate import JOURNEY_SLOT, resolve, segment_slot, typed_frame
from syncd.segments.holdout import is_held_out
from syncd.segments.rules import All, AnyOf, Cmp, Cond, Not, Ref
from syncd.segments.ruleset import RuleSet
from syncd.segments.typing_columns import Profiles


@dataclass(frozen=True)
class Trace:
    """One evaluated node.

    Attributes:
        kind: field, all, any, not, segment, journey or always.
        result: The node's verdict.
        path: Where the node is in segments.yaml (`segments[3].when.all[1]`).
        field: Field name (field nodes).
        op: Operator (field nodes).
        operand: What the value was compared with (field nodes), or the referenced key.
        value: The typed value seen (None = missing), or the referenced verdict.
        children: Nested traces (combinators; the referenced rule for references).
    """

    kind: str
    result: bool
    path: str
    field: str | None = None
    op: str | None = None
    operand: Any = None
    value: Any = None
    children: tuple[Trace, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; datetimes as ISO strings, sets as sorted lists."""
        out: dict[str, Any] = {"kind": self.kind, "result": self.result, "path": self.path}
        if self.kind == "field":
            out |= {"field": self.field, "op": self.op, "operand": _json(self.operand),
                    "value": _json(self.value)}  # fmt: skip
        elif self.kind in ("segment", "journey"):
            out |= {"target": self.operand, "value": _json(self.value)}
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass(frozen=True)
class Verdict:
    """One stage or segment for one contact.

    `matched` is the rule's own result; `member` the final result (for a stage: it is the
    contact's stage; for a segment: after its exclusive group). `lost_to` names the segment
    that won the group when the rule matched but the contact is not a member.
    """

    key: str
    kind: str  # stage | segment
    matched: bool
    member: bool
    trace: Trace
    group: str | None = None
    lost_to: str | None = None
    #: A member its segment's holdout keeps out of every target (known when the profile's
    #: stable id was given).
    held_out: bool = False
    persona: str | None = None
    description: str | None = None

    @property
    def summary(self) -> str:
        """One line a person reads."""
        if self.member and self.held_out:
            return "in segment, held out for measurement (written to no target)"
        if self.member:
            return "in"
        if self.matched and self.lost_to:
            return f"matched but lost to {self.lost_to} in group {self.group}"
        if self.matched and self.kind == "stage":
            return "matched but an earlier stage won"
        return "out"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "kind": self.kind, "matched": self.matched,
                "member": self.member, "group": self.group, "lost_to": self.lost_to,
                "held_out": self.held_out, "persona": self.persona,
                "description": self.description,
                "summary": self.summary, "trace": self.trace.to_dict()}  # fmt: skip


@dataclass(frozen=True)
class Explanation:
    """Every verdict for one contact."""

    journey_stage: str | None
    stages: tuple[Verdict, ...]
    segments: tuple[Verdict, ...]
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `--json`)."""
        return {"journey_stage": self.journey_stage,
                "values": {k: _json(v) for k, v in self.values.items()},
                "stages": [v.to_dict() for v in self.stages],
                "segments": [v.to_dict() for v in self.segments]}  # fmt: skip

    def render_text(self) -> str:
        """Plain text: journey, then each verdict with its indented trace."""
        lines = [f"journey stage: {self.journey_stage or '(none)'}"]
        for title, verdicts in (("stages", self.stages), ("segments", self.segments)):
            lines.append(f"{title}:")
            for v in verdicts:
                mark = "+" if v.member else ("~" if v.matched else "-")
                lines.append(f"  {mark} {v.key}: {v.summary}")
                about = " - ".join(x for x in (v.persona, v.description) if x)
                if about:
                    lines.append(f"      ({about})")
                lines.extend(_render(v.trace, 4))
        return "\n".join(lines)


def explain(
    rules: RuleSet,
    profile: Mapping[str, Any],
    now: datetime,
    *,
    profile_id: int | str | None = None,
) -> Explanation:
    """Every stage's and segment's verdict for one raw profile, with a full condition trace.

    Args:
        rules: The loaded rules.
        profile: One canonical profile (field name -> raw value as the sources send it).
        now: The clock for relative dates, as for `evaluate.assign`.
        profile_id: The profile's stable id; with it, verdicts say who is held out.
    """
    found = explanations(rules, [profile], now)[0]
    if profile_id is None:
        return found
    marked = tuple(
        replace(v, held_out=True)
        if v.member
        and (s := rules.segment_by_key[v.key]).holdout
        and is_held_out(profile_id, s.key, s.holdout)
        else v
        for v in found.segments
    )
    return replace(found, segments=marked)


def explanations(rules: RuleSet, profiles: Profiles, now: datetime) -> list[Explanation]:
    """`explain` for a batch, in one evaluation: one `Explanation` per profile, in order.

    Evaluating is the costly part of an explanation, so checking many profiles (tests do)
    goes through here rather than through `explain` once per profile.
    """
    nodes: dict[str, pl.Expr] = {}  # filled by the evaluator as it builds each rule
    frame = resolve(rules, typed_frame(rules, profiles, now).lazy(), now, nodes)
    columns = [expr.alias(_node_col(path)) for path, expr in nodes.items()]
    rows = frame.with_columns(columns).collect().iter_rows(named=True)
    return [_explanation(rules, row) for row in rows]


def _node_col(path: str) -> str:
    return f"@node:{path}"


def _explanation(rules: RuleSet, row: Mapping[str, Any]) -> Explanation:
    """The verdicts of one evaluated row (slots, typed values and node columns)."""
    stage = row[JOURNEY_SLOT]
    stages = tuple(
        Verdict(s.key, "stage", (t := _trace(rules, row, s.when)).result, s.key == stage, t)
        for s in rules.stages
    )
    winners = {
        group: next((k for k in members if row[segment_slot(k)]), None)
        for group, members in rules.groups.items()
    }
    segments = []
    for seg in rules.segments:
        t = _trace(rules, row, seg.when)
        member = bool(row[segment_slot(seg.key)])
        winner = winners.get(seg.exclusive) if seg.exclusive else None
        lost = winner if t.result and not member else None
        segments.append(
            Verdict(
                seg.key, "segment", t.result, member, t, seg.exclusive, lost,
                persona=seg.persona, description=seg.description,
            )
        )  # fmt: skip
    values = {n: row[n] for n in rules.used_fields}
    return Explanation(stage, stages, tuple(segments), values)


def _trace(rules: RuleSet, row: Mapping[str, Any], cond: Cond) -> Trace:
    """The trace of `cond`, every result read from its node column in `row`."""
    ok = bool(row[_node_col(cond.path)])
    if isinstance(cond, Cmp):
        return Trace("field", ok, cond.path, cond.field, cond.op, cond.operand, row[cond.field])
    if isinstance(cond, All | AnyOf):
        kids = tuple(_trace(rules, row, c) for c in cond.items)
        return Trace("all" if isinstance(cond, All) else "any", ok, cond.path, children=kids)
    if isinstance(cond, Not):
        return Trace("not", ok, cond.path, children=(_trace(rules, row, cond.item),))
    if isinstance(cond, Ref):
        stage = cond.journey_stage
        if stage is not None:
            return Trace("journey", ok, cond.path, operand=stage, value=row[JOURNEY_SLOT])
        # The referenced rule's own trace; `ok` is its final membership (after its group).
        inner = _trace(rules, row, rules.segment_by_key[cond.target].when)
        return Trace("segment", ok, cond.path, operand=cond.target, value=ok, children=(inner,))
    return Trace("always", ok, cond.path)


#: Longest rendering of one value in a trace line; a contact's field can hold a whole essay.
VALUE_WIDTH = 80


def _render(t: Trace, indent: int) -> list[str]:
    pad = " " * indent
    mark = "yes" if t.result else "no "
    if t.kind == "field":
        seen = "(missing)" if t.value is None else _shown(t.value)
        head = f"{pad}{mark} {t.field} {t.op} {_shown(t.operand)}: value {seen}"
    elif t.kind == "journey":
        head = f"{pad}{mark} journey stage is {t.operand!r}: stage {_shown(t.value)}"
    elif t.kind == "segment":
        head = f"{pad}{mark} member of {t.operand!r}"
    elif t.kind == "always":
        head = f"{pad}{mark} always"
    else:
        head = f"{pad}{mark} {t.kind}"
    out = [head]
    for child in t.children:
        out.extend(_render(child, indent + 2))
    return out


def _shown(value: Any) -> str:
    """A value as a trace line shows it.

    Its repr (quoted, control characters escaped), cut to `VALUE_WIDTH` characters with an ellipsis
    so one long field cannot swamp the report.
    """
    text = repr(_json(value))
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "\u2026"


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    return value
