"""Segmentation core: the rule language of `mappings/`, evaluation, explain and analytics.

Pure: no I/O except reading the two YAML files in `load_mappings`; the clock is an argument.

Public API::

    ruleset = load_mappings(Path("mappings"))        # raises ConfigError listing every problem
    ruleset.fields                                    # FieldCatalog: canonical name -> FieldDef
    ruleset.fields["country"].sources()               # SourcePaths, the `prefer`red one first

    ruleset.evaluate(contacts, now) -> Iterator[Assignment]   # per contact, compiled closures
    ruleset.evaluate_batch(rows_or_columns, now) -> BatchResult  # columnar (polars), fast
    result.assignments() -> Iterator[Assignment]; result.sizes(); result.members(key)
    ruleset.reason(key) -> str                        # audit reason for a membership
    ruleset.explain(contact, now) -> Explanation      # .to_dict(), .render_text()
    ruleset.analyse(rows_or_columns, now) -> SegmentReport    # .to_dict(), .render_text()

Contacts are canonical profiles: canonical field name -> raw value as the sources send it
(text numbers, ISO dates); values are typed on the way in, and anything that does not fit a
field's type counts as missing. `Assignment` is `(journey_stage, segments)`: the first journey
stage that matched (or None), and the final segment keys after exclusive groups (the higher
`priority` wins; ties go to the segment listed first).
"""

from syncd.segments.analytics import FieldCoverage, SegmentReport, SegmentStats
from syncd.segments.columnar import BatchResult
from syncd.segments.explain import Explanation, Trace, Verdict
from syncd.segments.fields import FieldCatalog, FieldDef, FieldType, Source, SourcePath, normalise
from syncd.segments.loader import load_mappings, loads_mappings
from syncd.segments.ruleset import Assignment, RuleSet, Segment, Stage

__all__ = [
    "Assignment",
    "BatchResult",
    "Explanation",
    "FieldCatalog",
    "FieldCoverage",
    "FieldDef",
    "FieldType",
    "RuleSet",
    "Segment",
    "SegmentReport",
    "SegmentStats",
    "Source",
    "SourcePath",
    "Stage",
    "Trace",
    "Verdict",
    "load_mappings",
    "loads_mappings",
    "normalise",
]
