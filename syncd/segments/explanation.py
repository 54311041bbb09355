"""Why one contact is in or out of each stage and segment: verdicts with full condition traces.

Walks the rule trees with the same leaf tests as `compile.py`, recording for every node the
value seen, the operator, the operand and the result. Powers `syncd segments explain EMAIL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.segments.compile import JOURNEY_KEY, compile_steps, leaf, seg_key
from syncd.segments.rules import All, AnyOf, Cmp, Cond, Not, Ref
from syncd.segments.ruleset import RuleSet


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

    @property
    def summary(self) -> str:
        """One line a person reads."""
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

    def render_text(self, *, traces: bool = True) -> str:
        """Plain text: journey, then each verdict with its indented trace."""
        lines = [f"journey stage: {self.journey_stage or '(none)'}"]
        for title, verdicts in (("stages", self.stages), ("segments", self.segments)):
            lines.append(f"{title}:")
            for v in verdicts:
                mark = "+" if v.member else ("~" if v.matched else "-")
                lines.append(f"  {mark} {v.key}: {v.summary}")
                if traces:
                    lines.extend(_render(v.trace, 4))
        return "\n".join(lines)


def explain(ruleset: RuleSet, contact: Mapping[str, Any], now: datetime) -> Explanation:
    """Verdicts and traces for one raw contact profile."""
    ctx = compile_steps(ruleset, now)(contact)
    tracer = _Tracer(ruleset, ctx, now)
    stage = ctx[JOURNEY_KEY]
    stages = tuple(
        Verdict(s.key, "stage", (t := tracer.trace(s.when)).result, s.key == stage, t)
        for s in ruleset.stages
    )
    winners = {
        group: next((k for k in members if ctx[seg_key(k)]), None)
        for group, members in ruleset.groups.items()
    }
    segments = []
    for seg in ruleset.segments:
        t = tracer.trace(seg.when)
        member = bool(ctx[seg_key(seg.key)])
        winner = winners.get(seg.exclusive) if seg.exclusive else None
        lost = winner if t.result and not member else None
        segments.append(Verdict(seg.key, "segment", t.result, member, t, seg.exclusive, lost))
    values = {n: ctx[n] for n in ruleset.used_fields}
    return Explanation(stage, stages, tuple(segments), values)


class _Tracer:
    def __init__(self, ruleset: RuleSet, ctx: dict[str, Any], now: datetime) -> None:
        self.ruleset, self.ctx, self.now = ruleset, ctx, now
        self.rules = {s.key: s.when for s in ruleset.segments}

    def trace(self, cond: Cond) -> Trace:
        if isinstance(cond, Cmp):
            value = self.ctx[cond.field]
            ok = leaf(cond, self.now)(value)
            return Trace("field", ok, cond.path, cond.field, cond.op, cond.operand, value)
        if isinstance(cond, All | AnyOf):
            kids = tuple(self.trace(c) for c in cond.items)
            if isinstance(cond, All):
                return Trace("all", all(k.result for k in kids), cond.path, children=kids)
            return Trace("any", any(k.result for k in kids), cond.path, children=kids)
        if isinstance(cond, Not):
            kid = self.trace(cond.item)
            return Trace("not", not kid.result, cond.path, children=(kid,))
        if isinstance(cond, Ref):
            stage = cond.journey_stage
            if stage is not None:
                seen = self.ctx[JOURNEY_KEY]
                return Trace("journey", seen == stage, cond.path, operand=stage, value=seen)
            member = bool(self.ctx[seg_key(cond.target)])
            inner = self.trace(self.rules[cond.target])
            return Trace("segment", member, cond.path, operand=cond.target, value=member,
                         children=(inner,))  # fmt: skip
        return Trace("always", cond.value, cond.path)


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
    """A value as a trace line shows it: its repr (quoted, control characters escaped), cut to
    `VALUE_WIDTH` characters with an ellipsis so one long field cannot swamp the report."""
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
