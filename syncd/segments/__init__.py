"""Segmentation core: the rule language of `mappings/`, evaluation, explain and analytics.

Pure: no I/O except reading the two YAML files in `load_mappings`; the clock is an argument.
The loaded rules are plain data; everything else is a function of rules, profiles and a clock.

Public API::

    rules = load_mappings(Path("mappings"))            # raises ConfigError listing every problem
    rules.fields                                       # FieldCatalog: canonical name -> FieldDef
    rules.fields["country"].sources()                  # SourcePaths, the `prefer`red one first
    rules.stages, rules.segments, rules.segment_by_key # Stage / Segment data, file order

    assign(rules, profiles, now) -> BatchResult        # the evaluator (columnar, polars)
    evaluate.assign_typed(rules, typed, now)           # the same over columns typed already
    result.assignments() -> Iterator[Assignment]; result.sizes(); result.journey()
    explain(rules, profile, now) -> Explanation        # .to_dict(), .render_text()
    analyse(rules, profiles, now) -> SegmentReport     # .to_dict(), .render_text()

Profiles are canonical: canonical field name -> raw value as the sources send it (text numbers,
ISO dates), as a list of rows or a dict of columns (Python lists, or polars text Series); values
are typed on the way in, and anything that does not fit a field's type counts as missing.
`Assignment` is `(journey_stage, segments)`: the first journey stage that matched (or None), and
the final segment keys after exclusive groups (the higher `priority` wins; ties go to the
segment listed first).
"""

from syncd.segments.analytics import SegmentReport, SegmentStats, analyse
from syncd.segments.checks import FieldCoverage
from syncd.segments.evaluate import Assignment, BatchResult, assign
from syncd.segments.explanation import Explanation, Trace, Verdict, explain
from syncd.segments.fields import FieldCatalog, FieldDef, FieldType, Source, SourcePath
from syncd.segments.loader import load_mappings
from syncd.segments.model import Goal, SegmentModel, Targets
from syncd.segments.ruleset import RuleSet, Segment, Stage
from syncd.segments.typing_columns import Profiles

__all__ = [
    "Assignment",
    "BatchResult",
    "Explanation",
    "FieldCatalog",
    "FieldCoverage",
    "FieldDef",
    "FieldType",
    "Goal",
    "Profiles",
    "RuleSet",
    "Segment",
    "SegmentModel",
    "SegmentReport",
    "SegmentStats",
    "Source",
    "SourcePath",
    "Stage",
    "Targets",
    "Trace",
    "Verdict",
    "analyse",
    "assign",
    "explain",
    "load_mappings",
]
