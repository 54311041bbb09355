"""Ledger and outbox writes on both databases: right rows, and a few statements per call.

The statement counts are the point: a run confirming tens of thousands of changes must not
send one statement per row (issue #17 measured 20k ledger updates at 19 s on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, event, select

from syncd.engine.ledger import ledger_for, ledger_summary, load_ledger, mark_each, set_ledger
from syncd.failures import Reason
from syncd.store.models import Contact, Membership, OutboxEntry, SyncRun
from syncd.store.types import table_of

NOW = datetime(2026, 7, 1, tzinfo=UTC)
LATER = datetime(2026, 7, 2, tzinfo=UTC)


def _contacts(conn: Connection, n: int) -> list[int]:
    table = table_of(Contact)
    conn.execute(
        table.insert(),
        [
            {"workspace": "w", "email": f"p{i}@example.com", "attributes": {},
             "created_at": NOW, "updated_at": NOW}
            for i in range(n)
        ],
    )  # fmt: skip
    return list(conn.execute(select(table.c.id).order_by(table.c.id)).scalars())


@contextmanager
def statements(db: Engine) -> Iterator[list[str]]:
    """Every statement sent to the driver inside the block (an executemany counts once)."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db, "before_cursor_execute", note)


def test_set_ledger_updates_and_inserts_in_a_few_statements(db: Engine) -> None:
    with db.begin() as conn:
        ids = _contacts(conn, 60)
        set_ledger(conn, "w", [("hubspot_list:a", c, "added", None) for c in ids[:40]], None,
                   now=NOW)  # fmt: skip
    rows = [("hubspot_list:a", c, "removed", None) for c in ids[:40]]
    rows += [("hubspot_list:a", c, "added", None) for c in ids[40:]]
    rows += [("hubspot_property:stage", c, "set", "lead") for c in ids[:10]]
    with db.begin() as conn, statements(db) as seen:
        assert set_ledger(conn, "w", rows, None, now=LATER) == 70
    assert len(seen) <= 2, seen
    with db.begin() as conn:
        ledger = load_ledger(conn, "w")
        m = table_of(Membership).c
        stamps = set(conn.execute(select(m.updated_at).where(m.workspace == "w")).scalars())
    assert {c: e.state for c, e in ledger["hubspot_list:a"].items()} == {
        **dict.fromkeys(ids[:40], "removed"),
        **dict.fromkeys(ids[40:], "added"),
    }
    assert {c: e.value for c, e in ledger["hubspot_property:stage"].items()} == dict.fromkeys(
        ids[:10], "lead"
    )
    assert len(stamps) == 1  # every row, old or new, carries this write's time
    assert stamps.pop().replace(tzinfo=UTC) == LATER


def test_set_ledger_keeps_other_workspaces_rows(db: Engine) -> None:
    with db.begin() as conn:
        ids = _contacts(conn, 3)
        set_ledger(conn, "other", [("hubspot_list:a", ids[0], "added", None)], None, now=NOW)
        set_ledger(conn, "w", [("hubspot_list:a", ids[0], "removed", None)], None, now=NOW)
        assert load_ledger(conn, "other")["hubspot_list:a"][ids[0]].state == "added"
        assert load_ledger(conn, "w")["hubspot_list:a"][ids[0]].state == "removed"


def test_mark_each_groups_rows_by_their_words(db: Engine) -> None:
    with db.begin() as conn:
        ids = _contacts(conn, 30)
        run_id = conn.execute(
            table_of(SyncRun).insert()
            .values(workspace="w", trigger="manual", started_at=NOW, counts={})
            .returning(table_of(SyncRun).c.id)
        ).scalar_one()  # fmt: skip
        o = table_of(OutboxEntry)
        conn.execute(
            o.insert(),
            [
                {"workspace": "w", "run_id": run_id, "target": "hubspot_list:a",
                 "contact_id": c, "action": "add", "payload": {"value": None},
                 "state": "in_flight", "attempts": 1, "created_at": NOW, "updated_at": NOW}
                for c in ids
            ],
        )  # fmt: skip
        box = list(conn.execute(select(o.c.id).order_by(o.c.id)).scalars())
    rows: list[tuple[int, str | None, Reason | None]] = [
        (i, "retryable failure", Reason.RATE_LIMITED) for i in box[:20]
    ]
    rows += [(i, f"member {i} refused", Reason.MEMBER_COMPLIANCE) for i in box[20:]]
    with db.begin() as conn, statements(db) as seen:
        mark_each(conn, rows, "pending", now=LATER)
    assert len(seen) <= 2, seen  # one shared group, one executemany for the rest
    with db.begin() as conn:
        got = {
            r.id: (r.state, r.last_error, r.reason_code, r.attempts)
            for r in conn.execute(select(o))
        }
    assert got == {i: ("pending", e, str(r), 2) for i, e, r in rows}


def test_ledger_for_reads_one_range_of_contacts_and_the_summary_counts_the_whole(
    db: Engine,
) -> None:
    with db.begin() as conn:
        ids = _contacts(conn, 30)
        rows = [("hubspot_list:a", c, "added", None) for c in ids]
        rows += [("mailchimp_tag:b", c, "removed", None) for c in ids[:5]]
        rows += [("hubspot_property:syncd", c, "set", "{}") for c in ids[10:12]]
        set_ledger(conn, "w", rows, None, now=NOW)
        set_ledger(conn, "other", [("hubspot_list:z", ids[0], "added", None)], None, now=NOW)
    with db.begin() as conn:
        part = ledger_for(conn, "w", ids[3], ids[11])
        targets, owned = ledger_summary(conn, "w")
        whole = load_ledger(conn, "w")
    assert part == {
        t: {c: e for c, e in got.items() if ids[3] <= c <= ids[11]} for t, got in whole.items()
    }
    assert set(part["hubspot_list:a"]) == set(ids[3:12])
    assert set(part["mailchimp_tag:b"]) == {ids[3], ids[4]}
    assert sorted(targets) == ["hubspot_list:a", "hubspot_property:syncd", "mailchimp_tag:b"]
    assert owned == {"hubspot_list:a": 30}
