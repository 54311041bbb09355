"""Benchmark: `syncd audit --contact EMAIL` against a large change log.

Fills a fresh, migrated SQLite file (and, when `SYNCD_TEST_POSTGRES_URL` is set, a fresh
PostgreSQL database that is dropped afterwards) with N audit events of about N/20 contacts,
spread over 200 runs and 90 days in insertion order, as a daemon would write them. Then it
times `syncd.store.history.list_events(contact=...)` for distinct contacts (median of `--queries`)
and prints the query plans. The figures are the last line, as JSON:
`{"rows", "sqlite_query_ms", "postgres_query_ms"}` (`postgres_query_ms` is null without PG).

Usage: `python bench/audit.py [--rows 1000000] [--queries 10] [--seed 1]`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from syncd.store import make_engine, upgrade
from syncd.store.db import normalise_url
from syncd.store.history import AuditFilter, list_events
from syncd.store.models import AuditEvent, SyncRun
from syncd.store.types import table_of

WORKSPACE = "default"
RUNS = 200
CHUNK = 20_000
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SEGMENTS = [f"segment-{n:02d}" for n in range(20)]
COLUMNS = (
    "workspace",
    "run_id",
    "at",
    "contact_id",
    "email",
    "hubspot_id",
    "mailchimp_id",
    "segment",
    "target",
    "action",
    "reason",
    "outcome",
    "error_class",
    "message",
)


def email_of(contact: int) -> str:
    """The address of synthetic contact number `contact`."""
    return f"person{contact}@example.com"


def generate(rows: int, contacts: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """Audit rows in time order (the physical order a daemon produces), as `COLUMNS` tuples."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=90)
    step = timedelta(days=90) / rows
    for n in range(rows):
        contact = rng.randrange(contacts)
        segment = rng.choice(SEGMENTS)
        kind = "hubspot_list" if n % 2 else "mailchimp_tag"
        roll = rng.random()
        action, outcome, error_class, message = "add", "applied", None, None
        if roll < 0.30:
            action = "remove"
        elif roll < 0.33:
            action, outcome = "drift", "detected"
        elif roll < 0.36:
            outcome, error_class = "rejected", "rejected"
            message = "not_found: Email addresses do not exist in the list"
        elif roll < 0.37:
            outcome, error_class = "retry", "transient"
            message = "mailchimp POST /lists/{list_id}/segments/{id}: HTTP 429: Too Many Requests"
        yield (
            WORKSPACE,
            1 + n * RUNS // rows,
            start + step * n,
            contact + 1,
            email_of(contact),
            str(1000 + contact),
            f"{contact:032x}",
            segment,
            f"{kind}:{segment}",
            action,
            f"rule segments/{segment} matched",
            outcome,
            error_class,
            message,
        )


def _runs(db: Engine) -> None:
    start = NOW - timedelta(days=90)
    runs = [
        {
            "id": n,
            "workspace": WORKSPACE,
            "trigger": "schedule",
            "status": "success",
            "full": False,
            "dry_run": False,
            "started_at": start + timedelta(days=90) * (n - 1) / RUNS,
            "counts": {},
            "api_calls": 0,
            "http_429": 0,
        }
        for n in range(1, RUNS + 1)
    ]
    with db.begin() as conn:
        conn.execute(table_of(SyncRun).insert(), runs)


def fill_executemany(db: Engine, rows: int, contacts: int, seed: int) -> None:
    """Insert through SQLAlchemy Core executemany, one transaction per chunk."""
    table = table_of(AuditEvent)
    batch: list[dict[str, Any]] = []
    for values in generate(rows, contacts, seed):
        batch.append(dict(zip(COLUMNS, values, strict=True)))
        if len(batch) >= CHUNK:
            with db.begin() as conn:
                conn.execute(table.insert(), batch)
            batch = []
    if batch:
        with db.begin() as conn:
            conn.execute(table.insert(), batch)


def fill_copy(db: Engine, rows: int, contacts: int, seed: int) -> None:
    """Stream every row through PostgreSQL COPY (psycopg 3), then ANALYZE as autovacuum would."""
    raw = db.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur:
            sql = f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN"
            with cur.copy(sql) as copy:
                for values in generate(rows, contacts, seed):
                    copy.write_row(values)
            cur.execute("ANALYZE audit_events")
        dbapi.commit()
    finally:
        raw.close()


def time_queries(db: Engine, contacts: int, queries: int, seed: int) -> float:
    """Median milliseconds of `list_events(contact=...)` over distinct contacts."""
    rng = random.Random(seed + 1)
    picks = rng.sample(range(contacts), queries + 1)
    list_events(db, WORKSPACE, AuditFilter(contact=email_of(picks[0])), NOW)  # warm-up
    timings = []
    for contact in picks[1:]:
        began = time.perf_counter()
        found = list_events(db, WORKSPACE, AuditFilter(contact=email_of(contact)), NOW)
        timings.append((time.perf_counter() - began) * 1000)
        assert found, f"no events for contact {contact}"
    return round(statistics.median(timings), 2)


def show_plan(db: Engine) -> None:
    """Print how the database answers the contact query (to check the index is used)."""
    from sqlalchemy import select

    a = table_of(AuditEvent).c
    query = (
        select(table_of(AuditEvent))
        .where(a.workspace == WORKSPACE, a.email == email_of(7))
        .order_by(a.at.desc(), a.id.desc())
        .limit(1000)
    )
    compiled = query.compile(db, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with db.connect() as conn:
        plan = conn.execute(text(prefix + str(compiled))).all()
    for line in plan:
        print(f"  {db.dialect.name} plan: {line[-1]}", file=sys.stderr)


def bench_sqlite(rows: int, contacts: int, queries: int, seed: int) -> float:
    """Fill and query a fresh SQLite file."""
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        upgrade(url)
        db = make_engine(url)
        try:
            _runs(db)
            began = time.perf_counter()
            fill_executemany(db, rows, contacts, seed)
            print(
                f"sqlite: filled {rows} rows in {time.perf_counter() - began:.1f}s", file=sys.stderr
            )
            show_plan(db)
            return time_queries(db, contacts, queries, seed)
        finally:
            db.dispose()


def bench_postgres(admin_url: str, rows: int, contacts: int, queries: int, seed: int) -> float:
    """Fill and query a fresh PostgreSQL database, dropped afterwards."""
    admin_url = normalise_url(admin_url)
    name = f"syncd_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        db = make_engine(url)
        try:
            _runs(db)
            began = time.perf_counter()
            fill_copy(db, rows, contacts, seed)
            print(
                f"postgres: filled {rows} rows in {time.perf_counter() - began:.1f}s",
                file=sys.stderr,
            )
            show_plan(db)
            return time_queries(db, contacts, queries, seed)
        finally:
            db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run both backends, print the JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit events to insert")
    parser.add_argument("--contacts", type=int, default=None, help="distinct contacts (rows/20)")
    parser.add_argument("--queries", type=int, default=10, help="timed queries per backend")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    contacts = args.contacts or max(args.queries + 1, args.rows // 20)
    sqlite_ms = bench_sqlite(args.rows, contacts, args.queries, args.seed)
    pg_url = os.environ.get("SYNCD_TEST_POSTGRES_URL")
    pg_ms = bench_postgres(pg_url, args.rows, contacts, args.queries, args.seed) if pg_url else None
    print(json.dumps({"rows": args.rows, "sqlite_query_ms": sqlite_ms, "postgres_query_ms": pg_ms}))


if __name__ == "__main__":
    main()
