"""The loaded mappings as plain data: fields, journey stages, segments and their order.

`RuleSet` is what `load_mappings` returns and what the engine, the CLI and the console hold.
It is immutable and does nothing by itself: `evaluate.assign`, `explanation.explain` and
`analytics.analyse` are functions of a `RuleSet`, profiles and a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from syncd.segments import refs
from syncd.segments.derived import closure
from syncd.segments.fields import FieldCatalog, FieldType
from syncd.segments.model import Goal, KpiTarget, SegmentModel, Targets
from syncd.segments.rules import Cond, fields_used

#: The engagement KPIs every segment reports (when fields.yaml defines them).
CANONICAL_KPIS = ("open_rate", "click_rate", "conversions", "revenue")


@dataclass(frozen=True, slots=True)
class Success:
    """What "worked" means for a segment: `when` became true within `within` of entering."""

    when: Cond
    within: timedelta


@dataclass(frozen=True, slots=True)
class Stage:
    """One journey stage, in evaluation order (first match wins)."""

    key: str
    when: Cond
    where: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment rule and its metadata; `where` is `file: segments[i]` for messages."""

    key: str
    when: Cond
    where: str
    model: SegmentModel
    goal: Goal | None = None
    exclusive: str | None = None
    priority: int = 0
    persona: str | None = None
    min_size: int | None = None
    description: str | None = None
    targets: Targets = field(default_factory=Targets)
    #: Percent of members held out of every target for measurement (None: no holdout).
    holdout: float | None = None
    #: KPI field -> target the members' average should meet.
    kpis: Mapping[str, KpiTarget] = field(default_factory=dict)
    success: Success | None = None
    #: Anti-flapping for this segment's targets (None: `safety.min_dwell` applies).
    min_dwell: timedelta | None = None

    def kpi_fields(self, fields: FieldCatalog) -> tuple[str, ...]:
        """The KPIs this segment reports: the canonical ones defined, then its own."""
        out = [k for k in CANONICAL_KPIS if k in fields]
        out += [k for k in self.kpis if k not in out]
        return tuple(out)


@dataclass(frozen=True)
class RuleSet:
    """Validated mappings; build it with `load_mappings`.

    Attributes:
        fields: The canonical fields of fields.yaml.
        stages: Journey stages in order; the first that matches is the contact's stage.
        segments: Segments in file order.
        units: Evaluation order of `journey`, `segment:KEY` and `group:NAME` units.
        deps: Unit -> units it needs.
        groups: Exclusive group -> member keys, highest priority first (ties: file order).
        keys: Segment keys in file order (derived).
        segment_by_key: Segment key -> segment (derived).
        used_fields: Fields any stage or segment reads, in fields.yaml order (derived).
        typed_fields: Source fields the evaluator types: those rules, success conditions and
            KPIs read, and the inputs of the derived fields they read (derived).
        derived_fields: Built-in derived fields to compute, in dependency order (derived).
        levels: `units` cut into levels whose units need only earlier levels (derived).
    """

    fields: FieldCatalog
    stages: tuple[Stage, ...]
    segments: tuple[Segment, ...]
    units: tuple[str, ...]
    deps: Mapping[str, tuple[str, ...]]
    groups: Mapping[str, tuple[str, ...]]
    keys: tuple[str, ...] = field(init=False)
    segment_by_key: Mapping[str, Segment] = field(init=False)
    used_fields: tuple[str, ...] = field(init=False)
    typed_fields: tuple[str, ...] = field(init=False)
    derived_fields: tuple[str, ...] = field(init=False)
    levels: tuple[tuple[str, ...], ...] = field(init=False)

    def __post_init__(self) -> None:
        # Derived once here, so every evaluation reads them instead of recomputing them.
        used: set[str] = set()
        for when in [s.when for s in self.stages] + [s.when for s in self.segments]:
            used |= fields_used(when)
        read = set(used)
        for seg in self.segments:
            if seg.success is not None:
                read |= fields_used(seg.success.when)
            read |= {
                k for k in seg.kpi_fields(self.fields) if self.fields[k].type is FieldType.NUMBER
            }
        sources, derived_order = closure(read)
        derived = {
            "keys": tuple(s.key for s in self.segments),
            "segment_by_key": {s.key: s for s in self.segments},
            "used_fields": tuple(f for f in self.fields if f in used),
            "typed_fields": tuple(f for f in self.fields if f in sources),
            "derived_fields": derived_order,
            "levels": tuple(tuple(lv) for lv in refs.levels(self.units, self.deps)),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
