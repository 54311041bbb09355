"""Canonical fields: their types, their sources in HubSpot and Mailchimp, and value typing.

Loaded once from `mappings/fields.yaml`. Connectors ask the `FieldMap` which source properties
they must fetch; the identity merge asks it which source wins (`prefer`); the rule engine asks it
for each field's type so that a raw value (HubSpot sends everything as strings, Mailchimp sends
numbers and ISO dates) is normalised the same way on every evaluation path.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class FieldType(enum.StrEnum):
    """The value type of a canonical field; decides which operators a rule may use on it."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


class Source(enum.StrEnum):
    """A system syncd pulls contacts from."""

    HUBSPOT = "hubspot"
    MAILCHIMP = "mailchimp"


@dataclass(frozen=True, slots=True)
class FieldSource:
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

    @property
    def property_name(self) -> str:
        """The property to request: the last dotted part for associations, else the path."""
        return self.path.split(".", 1)[1] if self.association else self.path


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One canonical field as loaded from fields.yaml."""

    name: str
    type: FieldType
    hubspot: FieldSource | None
    mailchimp: FieldSource | None
    prefer: Source | None

    def sources(self) -> list[FieldSource]:
        """Sources in merge order: the preferred one first."""
        found = [s for s in (self.hubspot, self.mailchimp) if s is not None]
        return sorted(found, key=lambda s: s.system is not self.prefer)


class FieldMap(Mapping[str, FieldDef]):
    """Canonical name -> `FieldDef`, read-only, in file order."""

    def __init__(self, fields: Mapping[str, FieldDef]) -> None:
        self._fields = dict(fields)

    def __getitem__(self, name: str) -> FieldDef:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def hubspot_properties(self) -> list[str]:
        """Contact properties to request from HubSpot (association-derived fields excluded)."""
        return [
            f.hubspot.path for f in self.values() if f.hubspot and f.hubspot.association is None
        ]

    def hubspot_associated(self, association: str) -> list[str]:
        """Properties or aggregates of one association (`deals` or `company`), in file order."""
        return [
            f.hubspot.property_name
            for f in self.values()
            if f.hubspot and f.hubspot.association == association
        ]

    def mailchimp_paths(self) -> list[str]:
        """Dotted member paths to read from Mailchimp."""
        return [f.mailchimp.path for f in self.values() if f.mailchimp]

    def merge(
        self, hubspot: Mapping[str, Any] | None, mailchimp: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """One canonical profile from a HubSpot record and a Mailchimp member (either may be None).

        `hubspot` is the flat property dict, with association-derived values under their full
        notation key (`deals.won_count`); `mailchimp` is the member as the API returns it. The
        preferred source wins when it has a value (not None, not ""); otherwise the other one.
        Values stay raw; `normalise` types them at evaluation.
        """
        raw = {Source.HUBSPOT: hubspot, Source.MAILCHIMP: mailchimp}
        out: dict[str, Any] = {}
        for f in self.values():
            for src in f.sources():
                record = raw[src.system]
                if record is None:
                    continue
                value = (
                    _dig(record, src.path)
                    if src.system is Source.MAILCHIMP
                    else record.get(src.path)
                )
                if value is not None and value != "":
                    out[f.name] = value
                    break
        return out


def _dig(record: Mapping[str, Any], path: str) -> Any:
    cur: Any = record
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


# -- value typing -----------------------------------------------------------------------------
# One grammar per type, shared with the columnar path (columnar.py uses the same regexes), so
# both paths agree on what counts as a value. Anything else is "missing".

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


NORMALISERS = {
    FieldType.STRING: to_string,
    FieldType.NUMBER: to_number,
    FieldType.BOOLEAN: to_boolean,
    FieldType.DATETIME: to_datetime,
}


def normalise(value: Any, ftype: FieldType) -> Any:
    """The typed value of `value` for a field of `ftype`, or None when it is missing or unusable."""
    return NORMALISERS[ftype](value)
