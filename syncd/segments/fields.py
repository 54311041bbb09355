"""Canonical fields: their types, their sources in HubSpot and Mailchimp, and value typing.

Loaded once from `mappings/fields.yaml` into a `FieldCatalog`. The engine derives from it which
source paths each connector reads and which source wins a merge (`prefer`); the evaluator reads
each field's type, so that a raw value (HubSpot sends everything as strings, Mailchimp sends
numbers and ISO dates) is typed by one grammar per type.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class FieldType(enum.StrEnum):
    """The value type of a canonical field; decides which operators a rule may use on it."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    #: A list of text values (the built-in `mailchimp_tags`); rules use `contains` and `exists`.
    LIST = "list"


class Source(enum.StrEnum):
    """A system syncd pulls contacts from."""

    HUBSPOT = "hubspot"
    MAILCHIMP = "mailchimp"


@dataclass(frozen=True, slots=True)
class SourcePath:
    """Where one canonical field comes from in one system.

    `path` is a contact property (`lifecyclestage`), a dotted path into the Mailchimp member
    (`stats.avg_open_rate`), or, for HubSpot, an associated object: `deals.<aggregate>` or
    `company.<property>` (see the header of `mappings/fields.yaml`).
    """

    system: Source
    path: str

    @property
    def association(self) -> str | None:
        """`deals` or `company` when the value comes from an associated object, else None."""
        if self.system is Source.HUBSPOT and "." in self.path:
            return self.path.split(".", 1)[0]
        return None


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One canonical field as loaded from fields.yaml."""

    name: str
    type: FieldType
    hubspot: SourcePath | None
    mailchimp: SourcePath | None
    prefer: Source | None

    def sources(self) -> list[SourcePath]:
        """Sources in merge order: the preferred one first."""
        found = [s for s in (self.hubspot, self.mailchimp) if s is not None]
        return sorted(found, key=lambda s: s.system is not self.prefer)


class FieldCatalog(Mapping[str, FieldDef]):
    """Every canonical field of `fields.yaml`: name -> `FieldDef`, read-only, in file order.

    The engine reads it to tell connectors which source paths to pull and which source wins a
    merge; the evaluator reads each field's type. (Not to be confused with the connectors'
    `FieldCatalog`, the per-system view the engine derives from it.)
    """

    def __init__(self, fields: Mapping[str, FieldDef]) -> None:
        self._fields = dict(fields)

    def __getitem__(self, name: str) -> FieldDef:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


# -- value typing -----------------------------------------------------------------------------
# One grammar per type. typing_columns.py types whole columns with the same regexes and falls
# back to these functions, so a value means the same thing however it arrives. Anything else
# is "missing".

NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# Strings matching this are parsed by polars directly; others go through `to_datetime`.
ISO_FAST_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)
NUMBER_PATTERN = NUMBER_RE.pattern
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def to_number(value: Any) -> float | None:
    """A finite or infinite float, or None for missing, NaN, booleans and non-numeric text."""
    t = type(value)
    if t is float:
        return None if math.isnan(value) else value
    if t is int:
        return float(value)
    if t is str:
        s = value.strip()
        if NUMBER_RE.match(s):
            return float(s)
    return None


def to_string(value: Any) -> str | None:
    """Text as is; numbers rendered; "" and everything else are missing."""
    t = type(value)
    if t is str:
        return value if value != "" else None
    if t is int:
        return str(value)
    if t is float:
        return None if math.isnan(value) else repr(value)
    return None


def to_boolean(value: Any) -> bool | None:
    """Booleans, and the words true/false/yes/no/1/0 in any case (HubSpot sends "true")."""
    if type(value) is bool:
        return value
    if type(value) is str:
        s = value.strip().lower()
        if s in TRUE_WORDS:
            return True
        if s in FALSE_WORDS:
            return False
    return None


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime, a date or an ISO-8601 string; naive means UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if type(value) is str and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return to_datetime(parsed)
    return None


def to_list(value: Any) -> list[str] | None:
    """A list of text values; an empty list, or anything but a list, is missing."""
    if isinstance(value, list | tuple):
        items = [v for v in (to_string(x) for x in value) if v is not None]
        return items or None
    return None


#: The reference typing of one raw value per field type: the typed value, or None when the value
#: is missing or unusable. Whole columns are typed by `typing_columns`, which agrees with these.
NORMALISERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.STRING: to_string,
    FieldType.NUMBER: to_number,
    FieldType.BOOLEAN: to_boolean,
    FieldType.DATETIME: to_datetime,
    FieldType.LIST: to_list,
}
