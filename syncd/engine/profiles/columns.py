"""Stored profiles as typed columns, a batch at a time: the sync's way to read them for rules.

The same profiles as `read.iter_contacts` gives one by one (`read.merge_profile`: the preferred
source's value unless it is missing or "", else the other's), built by polars over a whole
batch: the `attributes` JSON is decoded as text with a schema made from the fields the rules
read, the two sources are coalesced by preference, and the text is typed by
`segments.typing_columns`, whose grammar is the per-value one. No per-contact dict is built.

Decoding as text forgets a JSON value's type (`12`, `true` and `"12"` all read as text). That
changes the typed value only for a number or boolean in a string, boolean or date field, in the
Mailchimp tags or status, or `_tags` that is not a list. Rows whose text could be such a literal
are decoded again strictly (as dates, which polars takes only from JSON text); rows that fail
that, or that polars cannot decode at all (NaN, an object where text belongs), and every row
when the rules read a list field of `fields.yaml`, are merged one by one by `merge_profile`.
So every value is the one the per-row merge gives, whatever is stored.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Engine

from syncd.engine.profiles.identity import DEFAULT_PREFER
from syncd.engine.profiles.read import (
    STATUS_KEY,
    TAGS_KEY,
    contacts_query,
    merge_profile,
    preferences,
)
from syncd.segments import FieldType, RuleSet
from syncd.segments.derived import MAILCHIMP_TAGS
from syncd.segments.fields import NORMALISERS
from syncd.segments.typing_columns import DTYPES, text_expr, typed_series

T = TypeVar("T")
SOURCES = ("hubspot", "mailchimp")
#: Text a JSON number or boolean decodes to (loosely: only those characters, or the two words).
_LITERAL = r"^(?:[-+.0-9eE]+|true|false)$"
#: `_tags` followed by anything but a list or null.
_ODD_TAGS = r'"' + TAGS_KEY + r'"\s*:\s*[^\[n\s]'
#: Rows decoded at once.
_SLICE = 4096
#: Rows fetched at once.
_FETCH = 1000
#: Field types whose typed value depends on whether the raw JSON value was text.
_TYPE_SENSITIVE = (FieldType.STRING, FieldType.BOOLEAN, FieldType.DATETIME)


@dataclass(frozen=True)
class ProfileBatch:
    """One batch of stored contacts, in id order, with their typed fields.

    Attributes:
        ids: Contact row ids.
        hubspot_ids: HubSpot record ids (None where the contact has none).
        mailchimp_ids: Mailchimp subscriber hashes (None where none).
        statuses: Each contact's Mailchimp status as stored (`_status`), or None.
        typed: One typed column per `rules.typed_fields`, as `segments.typed_frame` types them
            (derived fields not yet added: see `segments.evaluate.with_derived`).
        per_row: How many contacts were merged one by one (see the module docstring).
    """

    ids: list[int]
    hubspot_ids: list[str | None]
    mailchimp_ids: list[str | None]
    statuses: list[Any]
    typed: list[pl.Series]
    per_row: int

    def __len__(self) -> int:
        return len(self.ids)


def iter_profile_batches(
    db: Engine, workspace: str, rules: RuleSet, size: int
) -> Generator[ProfileBatch, None, None]:
    """The contacts `read.iter_contacts` yields, `size` at a time, as typed columns."""
    reader = _Reader(rules)
    for raw in _raw_batches(db, workspace, size):
        yield reader.batch(*raw)


def profile_batches_ahead(
    db: Engine, workspace: str, rules: RuleSet, size: int, workers: int = 1
) -> Generator[ProfileBatch, None, None]:
    """`iter_profile_batches` as a pipeline: fetched in one thread, decoded in `workers` more.

    Fetching holds the GIL (a Python object per value) while decoding and typing mostly run in
    polars outside it, so with the caller evaluating the batch before, the three stages
    overlap. On 2 cores, 1.2 were busy with fetch and decode in one thread, 1.6 in two (real-
    path segmentation 94k -> 160k contacts/s at 200k); a second decoder gained nothing more
    there and held another batch. Batches come in id order; at most `workers` + 2 are in
    memory at once.
    """
    reader = _Reader(rules)
    with ThreadPoolExecutor(workers, thread_name_prefix="syncd-decode") as pool:
        futures = (pool.submit(reader.batch, *raw) for raw in _raw_batches(db, workspace, size))
        ahead = read_ahead(futures)
        try:
            for future in ahead:
                yield future.result()
        finally:
            ahead.close()


def _raw_batches(db: Engine, workspace: str, size: int) -> Iterator[tuple[list[Any], ...]]:
    """The stored columns (ids, emails, both record ids, JSON text), `size` rows at a time."""
    sqlite = db.dialect.name == "sqlite"
    query = contacts_query(workspace, as_text=True, scan=sqlite)
    step = min(size, _FETCH)
    with db.connect() as conn:
        parts: Iterator[Sequence[Sequence[Any]]]
        if sqlite:
            # SQLite's cursor streams by itself, and these columns need no conversion: the
            # driver's tuples skip SQLAlchemy's rows. (Not with `yield_per`, which buffers.)
            cursor = conn.execute(query).cursor
            parts = iter(lambda: cursor.fetchmany(step), [])
        else:
            # A statement option, not a connection option: it must not outlive this query.
            parts = conn.execute(query.execution_options(yield_per=step)).partitions(step)
        yield from _transposed(parts, size)


def _transposed(
    parts: Iterator[Sequence[Sequence[Any]]], size: int
) -> Iterator[tuple[list[Any], ...]]:
    """Rows as columns, `size` rows at a time.

    Rows are taken a few at a time and dropped at once: a batch of live row tuples would
    survive into the collector's oldest generation and make it rescan everything the caller
    keeps (a million planner views).
    """
    cols: tuple[list[Any], ...] = ([], [], [], [], [])
    for rows in parts:
        for col, values in zip(cols, zip(*rows, strict=True), strict=True):
            col.extend(values)
        if len(cols[0]) >= size:
            yield tuple(c[:size] for c in cols)
            cols = tuple(c[size:] for c in cols)
    if cols[0]:
        yield cols


def read_ahead(items: Generator[T, None, None]) -> Generator[T, None, None]:
    """`items`, each produced in a worker thread while the caller works on the one before.

    Reading (SQLite or psycopg, then polars) mostly runs outside the GIL, as does evaluation,
    so the two overlap. At most two items are held at a time. An error in the worker is raised
    here; closing this iterator stops the worker and closes `items` in its thread.
    """
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        with contextlib.closing(items):
            try:
                for item in items:
                    if not put((False, item)):
                        return
            except BaseException as e:  # noqa: BLE001 - handed to the caller, raised there
                put((True, e))
                return
        put((True, None))

    worker = threading.Thread(target=work, name="syncd-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            done, item = handoff.get()
            if done:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        worker.join()


class _Reader:
    """The decoding schemas and merge order for one rule set."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.prefer = preferences(rules.fields)
        catalog = rules.fields
        self.names = [
            n for n in rules.typed_fields if n not in ("email", MAILCHIMP_TAGS)
        ]  # email comes from its column; the tags from `_tags`
        #: A list field of fields.yaml has no text form: those rule sets merge row by row.
        self.all_per_row = any(catalog[n].type is FieldType.LIST for n in self.names)
        sensitive = [n for n in self.names if catalog[n].type in _TYPE_SENSITIVE]
        self.sensitive = [f"{s}.{n}" for s in SOURCES for n in sensitive]
        self.tags = MAILCHIMP_TAGS in rules.typed_fields
        self.schema = _schema(self.names, pl.String(), pl.List(pl.String()))
        self.strict = _schema(sensitive, pl.Datetime(), pl.List(pl.Datetime()))
        self.merge = [
            pl.coalesce(_present(f"{s}.{name}") for s in _order(self.prefer, name)).alias(name)
            for name in self.names
        ]
        # Text and number fields type in the same query; the rest by `typed_series`.
        at_once = {n: text_expr(pl.col(n), catalog[n].type) for n in self.names}
        self.typed_at_once = {n for n, e in at_once.items() if e is not None}
        self.typing = [pl.col(n) if e is None else e.alias(n) for n, e in at_once.items()]

    def batch(
        self,
        ids: list[int],
        emails: list[str],
        hubspot: list[str | None],
        mailchimp: list[str | None],
        texts: list[str | None],
    ) -> ProfileBatch:
        n = len(ids)
        raw = pl.Series("attributes", texts, dtype=pl.String)
        raw = raw.set(raw.str.strip_chars() == "", None)  # nothing to decode; polars drops ""
        if self.all_per_row:
            flat, odd = _flatten(pl.Series([None] * n, dtype=self.schema)), list(range(n))
        else:
            decoded, odd = _decode(raw, self.schema)
            flat = _flatten(decoded)
            odd = sorted(set(odd) | self._unsure(raw, flat, set(odd)))
        merged = flat.lazy().select(self.merge).select(self.typing).collect()
        fields = self.rules.fields
        typed = [
            t if t.name in self.typed_at_once else typed_series(t.name, t, fields[t.name].type, n)
            for t in merged
        ]
        if "email" in self.rules.typed_fields:
            typed.append(typed_series("email", pl.Series(emails, dtype=pl.String), _STR, n))
        if self.tags:
            typed.append(_own_tags(flat[f"mailchimp.{TAGS_KEY}"]))
        statuses = flat[f"mailchimp.{STATUS_KEY}"].to_list()
        if odd:
            typed = self._per_row(typed, statuses, odd, emails, texts)
        rank = {name: i for i, name in enumerate(self.rules.typed_fields)}
        typed.sort(key=lambda s: rank[s.name])
        return ProfileBatch(ids, hubspot, mailchimp, statuses, typed, len(odd))

    def _unsure(self, raw: pl.Series, flat: pl.DataFrame, odd: set[int]) -> set[int]:
        """Rows whose text may be a JSON number or boolean where that matters, yet not text."""
        checks = [pl.col(c).str.contains(_LITERAL) for c in self.sensitive]
        checks.append(pl.col(f"mailchimp.{STATUS_KEY}").str.contains(_LITERAL))
        tags = pl.col(f"mailchimp.{TAGS_KEY}")
        checks.append(tags.list.eval(pl.element().str.contains(_LITERAL)).list.any())
        mask = flat.select(pl.any_horizontal(checks).fill_null(False)).to_series()
        # Text as `_tags` would be read as a one-tag list, which the strict decode allows.
        odd_tags = set(raw.str.contains(_ODD_TAGS).fill_null(False).arg_true().to_list())
        rows = [i for i in mask.arg_true().to_list() if i not in odd and i not in odd_tags]
        if not rows:
            return odd_tags
        _, bad = _decode(raw.gather(rows), self.strict)
        return odd_tags | {rows[i] for i in bad}

    def _per_row(
        self,
        typed: list[pl.Series],
        statuses: list[Any],
        rows: Sequence[int],
        emails: Sequence[str],
        texts: Sequence[str | None],
    ) -> list[pl.Series]:
        """Replace the values of `rows` by those of the per-row merge."""
        profiles = []
        for i in rows:
            text = texts[i]
            attrs = (json.loads(text) if text is not None and text.strip() else None) or {}
            profiles.append(merge_profile(self.prefer, emails[i], attrs))
            statuses[i] = (attrs.get("mailchimp") or {}).get(STATUS_KEY)
        keep = pl.Series([True] * len(emails)).scatter(list(rows), False)
        out = []
        for col in typed:
            norm = NORMALISERS[self.rules.fields[col.name].type]
            values: list[Any] = [None] * len(col)
            for i, p in zip(rows, profiles, strict=True):
                values[i] = norm(p.get(col.name))
            out.append(col.zip_with(keep, pl.Series(col.name, values, dtype=col.dtype)))
        return out


_STR = FieldType.STRING


def _schema(names: Sequence[str], scalar: pl.DataType, tags: pl.DataType) -> pl.Struct:
    fields = {n: scalar for n in names}
    return pl.Struct({
        "hubspot": pl.Struct(fields),
        "mailchimp": pl.Struct(fields | {STATUS_KEY: scalar, TAGS_KEY: tags}),
    })  # fmt: skip


def _decode(raw: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, list[int]]:
    """`raw` decoded (null rows where polars cannot) and the rows it could not decode.

    polars refuses a whole column for one bad value, so a refused column is split in halves
    down to the bad rows.
    """
    try:
        # In slices, decoded in parallel: polars decodes a few thousand rows at a time faster
        # than many at once, and one column on one thread.
        slices = [
            pl.LazyFrame({"a": raw[i : i + _SLICE]}).select(pl.col("a").str.json_decode(dtype))
            for i in range(0, len(raw), _SLICE)
        ]
        parts = [f.to_series() for f in pl.collect_all(slices)]
        out = pl.concat(parts) if len(parts) > 1 else raw.str.json_decode(dtype)
        if len(out) == len(raw):
            return out, []
    except pl.exceptions.PolarsError:
        pass
    if len(raw) == 1:
        return pl.Series(raw.name, [None] * len(raw), dtype=dtype), list(range(len(raw)))
    half = len(raw) // 2
    head, bad_head = _decode(raw[:half], dtype)
    tail, bad_tail = _decode(raw[half:], dtype)
    return head.append(tail), bad_head + [half + i for i in bad_tail]


def _flatten(decoded: pl.Series) -> pl.DataFrame:
    """`{source: {field: v}}` structs as columns `source.field`."""
    frame = pl.DataFrame({"d": decoded})
    dtype = decoded.dtype
    assert isinstance(dtype, pl.Struct)
    cols = []
    for source in dtype.fields:
        inner = source.dtype
        assert isinstance(inner, pl.Struct)
        col = pl.col("d").struct.field(source.name)
        cols += [col.struct.field(f.name).alias(f"{source.name}.{f.name}") for f in inner.fields]
    return frame.select(cols)


def _order(prefer: dict[str, str], name: str) -> list[str]:
    """The sources in the order their values are taken for one field (`merge_fields`)."""
    first = prefer.get(name, DEFAULT_PREFER)
    return [first, *(s for s in SOURCES if s != first)]


def _present(col: str) -> pl.Expr:
    """A source's value where it counts as present for the merge (not null, not "")."""
    return pl.when(pl.col(col) != "").then(pl.col(col))


def _own_tags(tags: pl.Series) -> pl.Series:
    """The built-in `mailchimp_tags`: the member's text tags but syncd's, typed as a list."""
    kept = tags.list.eval(
        pl.element().filter(
            pl.element().is_not_null()
            & (pl.element() != "")
            & ~pl.element().str.starts_with("syncd:")
        )
    )
    return kept.set(kept.list.len() == 0, None).alias(MAILCHIMP_TAGS).cast(DTYPES[FieldType.LIST])
