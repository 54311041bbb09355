"""The loaded rule set: stages, segments, evaluation order, and the entry points.

`RuleSet` is what `load_mappings` returns and what the engine and the CLI hold. It is immutable;
the clock (`now`) is passed to every evaluation, never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from syncd.segments.fields import FieldCatalog
from syncd.segments.model import Goal, SegmentModel, Targets
from syncd.segments.rules import Cond, fields_used

if TYPE_CHECKING:
    from syncd.segments.analytics import SegmentReport
    from syncd.segments.columnar import BatchResult
    from syncd.segments.explain import Explanation


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

    @property
    def hubspot_list_name(self) -> str:
        """The namespaced HubSpot list name syncd owns."""
        return f"syncd: {self.key}"

    @property
    def mailchimp_tag(self) -> str:
        """The namespaced Mailchimp tag syncd owns."""
        return f"syncd:{self.key}"


class Assignment(NamedTuple):
    """Where one contact lands: its journey stage and its final segment set.

    `segments` holds final memberships (exclusive groups already resolved). The audit reason
    for a membership is the segment's rule: `RuleSet.reason(key)`.
    """

    journey_stage: str | None
    segments: frozenset[str]


@dataclass(frozen=True)
class RuleSet:
    """Validated mappings; build it with `load_mappings`.

    Attributes:
        stages: Journey stages in order; the first that matches is the contact's stage.
        segments: Segments in file order.
        units: Evaluation order of `journey`, `segment:KEY` and `group:NAME` units.
        deps: Unit -> units it needs.
        groups: Exclusive group -> member keys, highest priority first (ties: file order).
        fields: The canonical field map (set by the loader).
    """

    stages: tuple[Stage, ...]
    segments: tuple[Segment, ...]
    units: tuple[str, ...]
    deps: Mapping[str, tuple[str, ...]]
    groups: Mapping[str, tuple[str, ...]]
    fields: FieldCatalog = field(default_factory=lambda: FieldCatalog({}))

    def segment(self, key: str) -> Segment:
        """The segment named `key`; KeyError if there is none."""
        for s in self.segments:
            if s.key == key:
                return s
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        """Segment keys in file order."""
        return tuple(s.key for s in self.segments)

    def used_fields(self) -> list[str]:
        """Canonical fields any stage or segment reads, in fields.yaml order."""
        used: set[str] = set()
        for cond in [s.when for s in self.stages] + [s.when for s in self.segments]:
            used |= fields_used(cond)
        return [f for f in self.fields if f in used]

    def reason(self, key: str) -> str:
        """A short audit reason for membership of `key`: the rule and where it is defined."""
        return f"rule {key!r} ({self.segment(key).where})"

    def evaluate(
        self, contacts: Iterable[Mapping[str, Any]], now: datetime
    ) -> Iterator[Assignment]:
        """Assign each contact, one at a time, with predicates compiled once for this call.

        Contacts are canonical profiles (field name -> raw value); values are typed on the
        way in. Use `evaluate_batch` for large batches: same results, columnar and ~10x faster.
        """
        from syncd.segments.compile import compile_rules

        assign = compile_rules(self, now)
        for contact in contacts:
            yield assign(contact)

    def evaluate_batch(
        self, contacts: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]], now: datetime
    ) -> BatchResult:
        """Assign a whole batch with polars; `contacts` is a list of rows or a dict of columns."""
        from syncd.segments.columnar import evaluate_columnar

        return evaluate_columnar(self, contacts, now)

    def explain(self, contact: Mapping[str, Any], now: datetime) -> Explanation:
        """Every stage's and segment's verdict for one contact, with a full condition trace."""
        from syncd.segments.explain import explain

        return explain(self, contact, now)

    def analyse(
        self,
        contacts: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        now: datetime,
        **options: Any,
    ) -> SegmentReport:
        """Sizes, coverage, overlap, warnings and KPIs; options go to `analytics.analyse`."""
        from syncd.segments.analytics import analyse

        return analyse(self, contacts, now, **options)
