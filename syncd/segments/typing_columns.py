"""Field typing for whole columns: raw values -> one typed polars Series per field.

Gives exactly the values `fields.NORMALISERS` give, value by value (a property test checks it),
but types a column in one vectorised pass when its raw values are uniform: all numbers, all
text, all booleans. Mixed or unusual columns fall back to `NORMALISERS`, value by value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import polars as pl

from syncd.segments.fields import (
    FALSE_WORDS,
    ISO_FAST_RE,
    NORMALISERS,
    NUMBER_PATTERN,
    TRUE_WORDS,
    FieldType,
    to_boolean,
    to_datetime,
)

DTYPES: dict[FieldType, pl.DataType] = {
    FieldType.STRING: pl.String(),
    FieldType.NUMBER: pl.Float64(),
    FieldType.BOOLEAN: pl.Boolean(),
    FieldType.DATETIME: pl.Datetime("us", "UTC"),
    FieldType.LIST: pl.List(pl.String()),
}
# Formats polars tries, in order, on text that matches fields.ISO_FAST_RE.
_ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d")
_NONE = type(None)
# Types whose all-text columns go through `typed_text` (booleans from text keep the per-value
# path in `typed_series`, as before).
_TEXT_COLUMN_TYPES = frozenset({FieldType.STRING, FieldType.NUMBER, FieldType.DATETIME})

#: Canonical profiles (field name -> raw value), as a list of rows or as a dict of columns.
Profiles: TypeAlias = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]


def columns_of(
    profiles: Profiles, names: Sequence[str]
) -> tuple[int, dict[str, Sequence[Any] | None]]:
    """(row count, raw column per name) from rows or from columns; absent columns are None."""
    if isinstance(profiles, Mapping):
        cols = {n: profiles.get(n) for n in names}
        lengths = {len(c) for c in profiles.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: {sorted(lengths)}")
        return (lengths.pop() if lengths else 0), cols
    rows = profiles
    return len(rows), {n: [r.get(n) for r in rows] for n in names}


def typed_series(
    name: str, values: Sequence[Any] | pl.Series | None, ftype: FieldType, n: int
) -> pl.Series:
    """The typed column for one field (all-null when the column is absent)."""
    dtype = DTYPES[ftype]
    if values is None:
        return pl.Series(name, [None] * n, dtype=dtype)
    if isinstance(values, pl.Series):
        return typed_text(values.alias(name), ftype)
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    if not kinds:
        return pl.Series(name, [None] * n, dtype=dtype)
    if kinds == {str} and ftype in _TEXT_COLUMN_TYPES:
        return typed_text(pl.Series(name, values, dtype=pl.String), ftype)
    if ftype is FieldType.NUMBER and kinds <= {int, float}:
        return pl.Series(name, values, dtype=pl.Float64, strict=False).fill_nan(None)
    if ftype is FieldType.BOOLEAN and kinds == {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    norm = NORMALISERS[ftype]
    return pl.Series(name, [norm(v) for v in values], dtype=dtype)


def text_expr(text: pl.Expr, ftype: FieldType) -> pl.Expr | None:
    """`text` typed as `ftype` as a lazy expression, where the typing needs no fallback.

    Text and numbers type in one pass (so a whole batch's columns type in one parallel query);
    dates and booleans return None: their odd values go to the reference parser
    (`typed_text`).
    """
    if ftype is FieldType.STRING:
        return pl.when(text != "").then(text)
    if ftype is FieldType.NUMBER:
        stripped = text.str.strip_chars()
        return pl.when(stripped.str.contains(NUMBER_PATTERN)).then(
            stripped.cast(pl.Float64, strict=False)
        )
    return None


def _numbers_from_text(text: pl.Series) -> pl.Series:
    expr = text_expr(pl.col(text.name), FieldType.NUMBER)
    assert expr is not None
    return text.to_frame().select(expr.alias(text.name)).to_series()


def _datetimes_from_text(text: pl.Series) -> pl.Series:
    stripped = text.str.strip_chars()
    fast = stripped.str.contains(ISO_FAST_RE.pattern).fill_null(False)
    # The common shape first over everything, the rarer shapes only where still unparsed.
    out = stripped.str.to_datetime(
        _ISO_FORMATS[0], strict=False, time_unit="us", time_zone="UTC"
    ).set(~fast, None)
    for fmt in _ISO_FORMATS[1:]:
        left = (out.is_null() & fast).arg_true()
        if not len(left):
            break
        parsed = stripped.gather(left).str.to_datetime(
            fmt, strict=False, time_unit="us", time_zone="UTC"
        )
        out = out.scatter(left, parsed)
    out = out.alias(text.name)
    # Text the fast grammar did not cover (or polars refused): the reference parser decides.
    todo = (out.is_null() & stripped.is_not_null() & (stripped != "")).arg_true()
    if len(todo):
        raw = text.gather(todo).to_list()
        fixed = pl.Series([to_datetime(v) for v in raw], dtype=pl.Datetime("us", "UTC"))
        out = out.scatter(todo, fixed)
    return out


def typed_text(text: pl.Series, ftype: FieldType) -> pl.Series:
    """A polars text column (nulls for missing) typed as `ftype`, value by value as `NORMALISERS`.

    Raises:
        TypeError: For a list field or a column that is not text.
    """
    if text.dtype != pl.String or ftype is FieldType.LIST:
        raise TypeError(f"{text.name}: cannot type a {text.dtype} column as {ftype}")
    if ftype is FieldType.STRING:
        return text.set(text == "", None)
    if ftype is FieldType.NUMBER:
        return _numbers_from_text(text)
    if ftype is FieldType.DATETIME:
        return _datetimes_from_text(text)
    return _booleans_from_text(text)


def _booleans_from_text(text: pl.Series) -> pl.Series:
    word = text.str.strip_chars().str.to_lowercase()
    out = (
        pl.select(
            pl.when(word.is_in(sorted(TRUE_WORDS)))
            .then(True)
            .when(word.is_in(sorted(FALSE_WORDS)))
            .then(False)
            .otherwise(None)
        )
        .to_series()
        .alias(text.name)
    )
    # Anything unrecognised (odd whitespace, say): the reference parser decides.
    todo = (out.is_null() & text.is_not_null()).arg_true()
    if len(todo):
        fixed = [to_boolean(v) for v in text.gather(todo).to_list()]
        out = out.scatter(todo, pl.Series(fixed, dtype=pl.Boolean))
    return out
