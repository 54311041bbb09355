"""Pydantic models for the two mapping files, minus the rule conditions.

Conditions (`when:`) are a small recursive grammar with precise error paths; `rules.py` parses
them by hand. Everything else is validated here with `extra="forbid"`, one item at a time, so a
bad segment does not hide the problems of the next one.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncd.segments.fields import FieldType, Source

KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SegmentModel(enum.StrEnum):
    """The classic segmentation model a segment belongs to (for reporting and review)."""

    GOAL = "goal"
    DEMOGRAPHIC = "demographic"
    GEOGRAPHIC = "geographic"
    PSYCHOGRAPHIC = "psychographic"
    TECHNOGRAPHIC = "technographic"
    BEHAVIORAL = "behavioral"
    NEEDS = "needs"
    VALUE = "value"
    FIRMOGRAPHIC = "firmographic"
    ENGAGEMENT = "engagement"
    #: A segment over the customer-journey stages (`{segment: journey/STAGE}`).
    JOURNEY = "journey"


class Goal(enum.StrEnum):
    """The marketing goal a goal segment serves."""

    INFORM = "inform"
    CONVERT = "convert"
    RENEW = "renew"
    UPSELL = "upsell"
    CROSS_SELL = "cross-sell"
    FEEDBACK = "feedback"
    CONTENT = "content"
    PROMOTE_FEATURE = "promote-feature"
    PROMOTE_PRODUCT = "promote-product"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One entry of `fields:` in fields.yaml."""

    type: FieldType
    hubspot: str | None = Field(default=None, min_length=1)
    mailchimp: str | None = Field(default=None, min_length=1)
    prefer: Source | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _sources(self) -> FieldSpec:
        if self.hubspot is None and self.mailchimp is None:
            raise ValueError("needs a source: 'hubspot', 'mailchimp' or both")
        if self.prefer is not None and getattr(self, self.prefer.value) is None:
            raise ValueError(f"prefer: {self.prefer.value!r} has no source on this field")
        return self


class Targets(_Strict):
    """Where a segment is written; both default to false so a new rule writes nothing."""

    hubspot_list: bool = False
    mailchimp_tag: bool = False


_SPAN_RE = re.compile(r"^\s*([0-9]+)\s*([hdw])\s*$")
_SPAN_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_span(value: Any) -> timedelta:
    """`30d`, `12h` or `2w` as a timedelta (the segment files' own small duration grammar).

    Raises:
        ValueError: Anything else, with the accepted forms.
    """
    found = _SPAN_RE.match(value) if isinstance(value, str) else None
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"expected a duration like 30d, 12h or 2w, got {value!r}")
    return int(found.group(1)) * _SPAN_UNITS[found.group(2)]


class KpiTarget(_Strict):
    """A target for one KPI of a segment: the members' average should stay within it."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> KpiTarget:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class SuccessSpec(_Strict):
    """What "worked" means for a segment's goal; `when` is parsed by rules.py."""

    when: Any
    within: timedelta

    @field_validator("within", mode="before")
    @classmethod
    def _span(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_span(value)


def _check_key(value: str) -> str:
    if not KEY_RE.match(value):
        raise ValueError(f"key {value!r} must be lowercase kebab-case, like 'trial-to-paid'")
    return value


class StageSpec(_Strict):
    """One journey stage; `when` is parsed by rules.py."""

    key: str
    description: str | None = None
    when: Any

    _key = field_validator("key")(_check_key)


class SegmentSpec(_Strict):
    """One entry of `segments:`; `when` is parsed by rules.py."""

    key: str
    description: str | None = None
    model: SegmentModel
    goal: Goal | None = None
    exclusive: str | None = Field(default=None, min_length=1)
    priority: int = 0
    persona: str | None = None
    min_size: int | None = Field(default=None, ge=0)
    when: Any
    targets: Targets = Targets()
    holdout: float | None = Field(default=None, gt=0, le=50)
    kpis: dict[str, KpiTarget] | None = None
    success: SuccessSpec | None = None
    #: Anti-flapping: a member stays at least this long, a leaver stays out this long.
    min_dwell: timedelta | None = None

    @field_validator("min_dwell", mode="before")
    @classmethod
    def _dwell(cls, value: Any) -> timedelta | None:
        if value is None or isinstance(value, timedelta):
            return value
        return parse_span(value)

    @field_validator("kpis")
    @classmethod
    def _kpi_names(cls, value: dict[str, KpiTarget] | None) -> dict[str, KpiTarget] | None:
        for name in value or {}:
            if not FIELD_NAME_RE.match(name):
                raise ValueError(f"KPI {name!r}: KPIs are field names (lowercase snake_case)")
        return value

    @field_validator("key")
    @classmethod
    def _segment_key(cls, value: str) -> str:
        if value == "journey":
            raise ValueError(
                "'journey' is reserved (journey stages are referred to as journey/STAGE)"
            )
        return _check_key(value)

    @model_validator(mode="after")
    def _goal_matches_model(self) -> SegmentSpec:
        if self.model is SegmentModel.GOAL and self.goal is None:
            raise ValueError("model 'goal' needs 'goal:' (one of: " + ", ".join(Goal) + ")")
        if self.model is not SegmentModel.GOAL and self.goal is not None:
            raise ValueError(f"'goal:' is only for model 'goal' (this is {self.model.value!r})")
        return self
