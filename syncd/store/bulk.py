"""Bulk inserts at the driver's speed, for the writes that scale with the contact count.

`conn.execute(table.insert(), [dict, ...])` turns every value of every row through its
column type on the way in (JSON encoding, the UTC conversion of `types.UTCDateTime`): about
15 µs a row on SQLite, a minute for the four million rows a first run at a million contacts
journals. The rows those writes make repeat a few values many times (one timestamp, a few
reasons and payloads), so here each distinct value goes through its column's own bind
processor once and the rows go to the driver as they are: `executemany` on SQLite, `COPY` on
PostgreSQL. The values stored are exactly those `table.insert()` stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

#: Rows per driver call.
CHUNK = 5000
#: Distinct values remembered per column; past this a column's values go through one by one.
REMEMBERED = 10_000


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (one value per name of `columns`, in that order); returns how many.

    Args:
        conn: The caller's transaction.
        table: Where to.
        columns: Column names, in the rows' order; the others take their defaults.
        rows: Values as the application holds them (datetimes, dicts for JSON), lazily.
    """
    dialect = conn.dialect
    if dialect.name == "postgresql":
        return _copy(conn, table, columns, rows)
    # Inline: no RETURNING of the generated ids, which nobody reads here.
    compiled = table.insert().inline().compile(dialect=dialect, column_keys=list(columns))
    order = compiled.positiontup
    positional = order is not None
    keys = list(order) if order is not None else list(columns)
    at = [list(columns).index(k) for k in keys]
    converters = [_converter(table, k, dialect) for k in keys]
    written = 0
    chunk: list[Any] = []
    for row in rows:
        values = [conv(row[i]) for conv, i in zip(converters, at, strict=True)]
        chunk.append(tuple(values) if positional else dict(zip(keys, values, strict=True)))
        if len(chunk) >= CHUNK:
            written += _send(conn, compiled.string, chunk)
            chunk = []
    if chunk:
        written += _send(conn, compiled.string, chunk)
    return written


def _copy(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """PostgreSQL: one `COPY ... FROM STDIN` in the caller's transaction (psycopg)."""
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(c) for c in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    converters = [_converter(table, c, conn.dialect) for c in columns]
    raw: Any = conn.connection.driver_connection
    written = 0
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([conv(v) for conv, v in zip(converters, row, strict=True)])
            written += 1
    return written


def _send(conn: Connection, sql: str, chunk: list[Any]) -> int:
    conn.exec_driver_sql(sql, chunk)
    return len(chunk)


def _converter(table: Table, name: str, dialect: Any) -> Callable[[Any], Any]:
    """The column's bind processor, remembered per distinct value it is given."""
    process = table.c[name].type.bind_processor(dialect)
    if process is None:
        return _same
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        key = _key(value)
        if key is None:
            return process(value)
        found = seen.get(key, _MISSING)
        if found is _MISSING:
            found = process(value)
            if len(seen) < REMEMBERED:
                seen[key] = found
        return found

    return convert


def _same(value: Any) -> Any:
    return value


_MISSING = object()


def _key(value: Any) -> Any:
    """A hashable stand-in for `value` that tells apart what the processor does (None: none)."""
    if isinstance(value, dict):
        try:
            return ("dict", frozenset(value.items()))
        except TypeError:  # a dict of lists: not remembered
            return None
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)
