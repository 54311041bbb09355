"""Built-in fields computed from other fields: recency, frequency, monetary, RFM, engagement.

They are usable in rules and as KPIs like any field of `fields.yaml`, whose header documents
how each is computed. They are computed in the columnar evaluator, only when a rule or a KPI
reads them, from the typed columns of their inputs; an input that `fields.yaml` does not
define counts as missing. The quintile scores rank the contacts evaluated together (a whole
batch of the sync), so they say where a contact stands among its peers, not against a fixed
scale. `mailchimp_tags` is built in too: the engine fills it with the member's tags other
than syncd's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from syncd.segments.fields import FieldDef, FieldType

#: The Mailchimp tags of a contact, minus `syncd:` tags; filled by the engine, not by a rule.
MAILCHIMP_TAGS = "mailchimp_tags"

#: Datetime fields whose latest value is a contact's last engagement or purchase.
RECENCY_INPUTS = ("last_email_open", "last_purchase_at", "last_activity_at")
#: Count fields whose sum is a contact's frequency of interaction.
FREQUENCY_INPUTS = ("email_opens", "email_clicks", "page_views", "conversions", "deals_won")
MONETARY_INPUTS = ("revenue",)
ENGAGEMENT_INPUTS = ("open_rate", "click_rate", "last_email_open")
_DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class Derived:
    """One built-in field: what it reads and how it is computed.

    Attributes:
        name: The field name rules use.
        inputs: Fields it reads (source fields, or derived fields listed before it).
        build: (inputs available, clock, the frame so far) -> its expression over the typed
            columns (the frame gives the quintile scores their breakpoints).
        doc: One line for `fields.yaml` and `syncd segments templates`.
    """

    name: str
    inputs: tuple[str, ...]
    build: Callable[[tuple[str, ...], datetime, pl.DataFrame], pl.Expr]
    doc: str


def _days_since(col: pl.Expr, now: datetime) -> pl.Expr:
    """Days from a UTC datetime column to `now` (integer microseconds, then one division)."""
    now_us = int(now.timestamp() * 1_000_000)
    return (pl.lit(now_us) - col.dt.epoch("us")).cast(pl.Float64) / _DAY_US


def _recency(present: tuple[str, ...], now: datetime, frame: pl.DataFrame | None = None) -> pl.Expr:
    if not present:
        return pl.lit(None, dtype=pl.Float64)
    latest = pl.col(present[0]) if len(present) == 1 else pl.max_horizontal(*map(pl.col, present))
    return _days_since(latest, now).clip(lower_bound=0.0)


def _summed(present: tuple[str, ...], now: datetime, frame: pl.DataFrame) -> pl.Expr:
    if not present:
        return pl.lit(None, dtype=pl.Float64)
    cols = [pl.col(c) for c in present]
    any_value = pl.any_horizontal(*(c.is_not_null() for c in cols))
    total = pl.sum_horizontal(*(c.fill_null(0.0) for c in cols))
    return pl.when(any_value).then(total).otherwise(None)


#: Breakpoints come from at most this many values (every k-th one beyond it): exact for a
#: sync batch, and within a fraction of a percentile for a million contacts, at a fraction of
#: the cost of ranking them all.
QUANTILE_SAMPLE = 50_000


def _quintile(
    source: str, *, low_is_best: bool
) -> Callable[[tuple[str, ...], datetime, pl.DataFrame], pl.Expr]:
    def build(present: tuple[str, ...], now: datetime, frame: pl.DataFrame) -> pl.Expr:
        values = frame[source].drop_nulls()
        if not len(values):
            return pl.lit(None, dtype=pl.Float64)
        if len(values) > QUANTILE_SAMPLE:
            values = values.gather_every(len(values) // QUANTILE_SAMPLE)
        cuts = [values.quantile(q, "linear") for q in (0.2, 0.4, 0.6, 0.8)]
        above = [(pl.col(source) > cut).cast(pl.Float64) for cut in cuts]
        count = above[0] + above[1] + above[2] + above[3]  # null stays null
        return (5.0 - count) if low_is_best else (1.0 + count)

    return build


def _rfm(present: tuple[str, ...], now: datetime, frame: pl.DataFrame) -> pl.Expr:
    cols = [pl.col(c) for c in present]
    any_value = pl.any_horizontal(*(c.is_not_null() for c in cols))
    return pl.when(any_value).then(pl.sum_horizontal(*(c.fill_null(1.0) for c in cols)))


def _engagement(present: tuple[str, ...], now: datetime, frame: pl.DataFrame) -> pl.Expr:
    parts: list[pl.Expr] = []
    if "open_rate" in present:
        parts.append((pl.col("open_rate") * 80.0).clip(0.0, 40.0))
    if "click_rate" in present:
        parts.append((pl.col("click_rate") * 400.0).clip(0.0, 40.0))
    if "last_email_open" in present:
        days = _days_since(pl.col("last_email_open"), now)
        parts.append((20.0 - days * (20.0 / 365.0)).clip(0.0, 20.0))
    if not parts:
        return pl.lit(None, dtype=pl.Float64)
    total = parts[0].fill_null(0.0)
    for part in parts[1:]:
        total = total + part.fill_null(0.0)
    any_value = pl.any_horizontal(*(pl.col(c).is_not_null() for c in present))
    return pl.when(any_value).then(total)


#: Every derived field, in dependency order (a field reads only fields listed before it).
DERIVED: tuple[Derived, ...] = (
    Derived("recency_days", RECENCY_INPUTS, _recency,
            "days since the latest of last_email_open, last_purchase_at, last_activity_at"),
    Derived("frequency", FREQUENCY_INPUTS, _summed,
            "email_opens + email_clicks + page_views + conversions + deals_won (missing = 0)"),
    Derived("monetary", MONETARY_INPUTS, _summed, "revenue (won deal value)"),
    Derived("recency_score", ("recency_days",), _quintile("recency_days", low_is_best=True),
            "1-5 quintile of recency_days among the contacts evaluated; 5 = most recent"),
    Derived("frequency_score", ("frequency",), _quintile("frequency", low_is_best=False),
            "1-5 quintile of frequency; 5 = most frequent"),
    Derived("monetary_score", ("monetary",), _quintile("monetary", low_is_best=False),
            "1-5 quintile of monetary; 5 = highest value"),
    Derived("rfm_score", ("recency_score", "frequency_score", "monetary_score"), _rfm,
            "recency_score + frequency_score + monetary_score, 3-15 (a missing score counts 1)"),
    Derived("engagement_score", ENGAGEMENT_INPUTS, _engagement,
            "0-100: 40 x open_rate/0.5 + 40 x click_rate/0.1 + 20 x (1 - days since last open"
            "/365), each part capped at its weight"),
)  # fmt: skip
DERIVED_BY_NAME: Mapping[str, Derived] = {d.name: d for d in DERIVED}


def builtin_fields() -> dict[str, FieldDef]:
    """The built-in fields every rule set has besides those of `fields.yaml`."""
    out = {d.name: FieldDef(d.name, FieldType.NUMBER, None, None, None) for d in DERIVED}
    out[MAILCHIMP_TAGS] = FieldDef(MAILCHIMP_TAGS, FieldType.LIST, None, None, None)
    return out


def closure(names: set[str]) -> tuple[set[str], tuple[str, ...]]:
    """(source fields needed, derived fields to compute in order) for the fields `names`."""
    needed = set(names)
    for d in reversed(DERIVED):  # later ones read earlier ones
        if d.name in needed:
            needed |= set(d.inputs)
    derived = tuple(d.name for d in DERIVED if d.name in needed)
    return needed - set(derived), derived


def derive(frame: pl.DataFrame, names: tuple[str, ...], now: datetime) -> pl.DataFrame:
    """`frame` plus the derived columns `names` (in `DERIVED` order).

    Fields that read only columns already present are computed together in one pass (polars
    runs them in parallel), then the fields that read those, and so on.
    """
    todo = list(names)
    while todo:
        ready = [n for n in todo if not set(DERIVED_BY_NAME[n].inputs) & set(todo)]
        exprs = []
        for name in ready:
            spec = DERIVED_BY_NAME[name]
            present = tuple(c for c in spec.inputs if c in frame.columns)
            exprs.append(spec.build(present, now, frame).cast(pl.Float64).alias(name))
        frame = frame.with_columns(exprs)
        todo = [n for n in todo if n not in ready]
    return frame
