"""Benchmark: the ledger and outbox writes of one apply, on SQLite or PostgreSQL.

Seeds N contacts and N ledger rows on one target, then times, each in its own transaction:
`set_ledger` inserting N new rows (a second target), `set_ledger` updating the N existing
rows, `write_outbox` journalling N changes (`journal_s`), `mark` moving N outbox rows to one
state and `mark_each` moving them with per-row errors. These are the store writes whose cost
grows with the contact count in apply, drift and release. Prints one JSON line; never fails
on the figures.

    .venv/bin/python bench/ledger.py --rows 20000 [--db postgresql+psycopg://postgres@127.0.0.1/test]

Without `--db` it uses a fresh SQLite file in a temporary directory; with a PostgreSQL server
URL it creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import database  # noqa: E402

from syncd.engine.ledger import mark, mark_each, set_ledger, write_outbox  # noqa: E402
from syncd.engine.plan import Action, Change  # noqa: E402
from syncd.failures import Reason  # noqa: E402
from syncd.store import make_engine  # noqa: E402
from syncd.store.models import Contact, SyncRun  # noqa: E402
from syncd.store.types import table_of  # noqa: E402

WORKSPACE = "bench"


def main() -> None:
    """Parse the options, seed, time each write, print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--db", default=None, help="PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    now = datetime(2026, 7, 1, tzinfo=UTC)
    n = args.rows
    with database(args.db) as url:
        db = make_engine(url)
        with db.begin() as conn:
            conn.execute(
                table_of(Contact).insert(),
                [
                    {
                        "workspace": WORKSPACE,
                        "email": f"p{i}@example.com",
                        "hubspot_id": str(i),
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(n)
                ],
            )
            ids = [row[0] for row in conn.execute(text("SELECT id FROM contacts ORDER BY id"))]
        figures: dict[str, object] = {"rows": n, "dialect": db.dialect.name}

        def timed(name: str, body: object) -> None:
            start = time.perf_counter()
            with db.begin() as conn:
                body(conn)  # type: ignore[operator]
            figures[name] = round(time.perf_counter() - start, 3)

        seed = [("hubspot_list:a", c, "added", None) for c in ids]
        timed("ledger_seed_s", lambda conn: set_ledger(conn, WORKSPACE, seed, None, now=now))
        fresh = [("hubspot_list:b", c, "added", None) for c in ids]
        timed("ledger_insert_s", lambda conn: set_ledger(conn, WORKSPACE, fresh, None, now=now))
        flip = [("hubspot_list:a", c, "removed", None) for c in ids]
        timed("ledger_update_s", lambda conn: set_ledger(conn, WORKSPACE, flip, None, now=now))
        with db.begin() as conn:
            run_id = conn.execute(
                table_of(SyncRun)
                .insert()
                .values(workspace=WORKSPACE, trigger="manual", started_at=now, counts={})
                .returning(table_of(SyncRun).c.id)
            ).scalar_one()
        changes = [Change("hubspot_list:a", c, Action.ADD, "bench") for c in ids]
        timed(
            "journal_s",
            lambda conn: write_outbox(conn, WORKSPACE, run_id, changes, now=now),
        )
        with db.begin() as conn:
            box = [row[0] for row in conn.execute(text("SELECT id FROM outbox ORDER BY id"))]
        timed("mark_s", lambda conn: mark(conn, box, "in_flight", now=now))
        each = [(i, f"error {i % 7}", Reason.MEMBER_COMPLIANCE) for i in box]
        timed("mark_each_s", lambda conn: mark_each(conn, each, "rejected", now=now))
        db.dispose()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
