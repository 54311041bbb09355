"""`store.bulk.insert_many` stores exactly what `table.insert()` stores, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select

from syncd.store import bulk
from syncd.store.bulk import insert_many
from syncd.store.models import Contact, OutboxEntry, OutboxState, SyncRun
from syncd.store.types import table_of

NOW = datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC)
ELSEWHERE = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
COLUMNS = (
    "workspace", "run_id", "target", "contact_id", "action", "payload", "reason", "state",
    "attempts", "created_at", "updated_at",
)  # fmt: skip
PAYLOADS: list[Any] = [
    {"value": None},
    {"value": "a;b"},
    {"value": 'Zoë "quoted" \\ back\tslash\nnewline'},
    {"value": ["a", "list"]},  # not hashable: converted each time
    {},
]


def _setup(db: Engine, n: int) -> tuple[int, list[int]]:
    c = table_of(Contact)
    with db.begin() as conn:
        conn.execute(
            c.insert(),
            [{"workspace": "w", "email": f"p{i}@example.com", "attributes": {},
              "created_at": NOW, "updated_at": NOW} for i in range(max(n, 1))],
        )  # fmt: skip
        run_id = conn.execute(
            table_of(SyncRun).insert()
            .values(workspace="w", trigger="manual", started_at=NOW, counts={})
            .returning(table_of(SyncRun).c.id)
        ).scalar_one()  # fmt: skip
        ids = list(conn.execute(select(c.c.id).order_by(c.c.id)).scalars())
    return run_id, ids[:n]


def _rows(run_id: int, ids: list[int], target: str) -> list[tuple[Any, ...]]:
    return [
        (
            "w", run_id, target, cid, "add", PAYLOADS[k % len(PAYLOADS)],
            None if k % 3 else f"reason {k % 4} — ünïcode",
            OutboxState.HELD if k % 2 else OutboxState.PENDING, k % 5,
            NOW if k % 2 else ELSEWHERE, NOW,
        )
        for k, cid in enumerate(ids)
    ]  # fmt: skip


def _stored(db: Engine, target: str) -> list[tuple[Any, ...]]:
    o = table_of(OutboxEntry).c
    with db.connect() as conn:
        rows = conn.execute(
            select(*(o[name] for name in COLUMNS)).where(o.target == target).order_by(o.id)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("n", [0, 1, 7, 12_345])
def test_insert_many_stores_what_the_plain_insert_stores(
    db: Engine, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 1000)  # several driver calls, and a short last one
    run_id, ids = _setup(db, n)
    table = table_of(OutboxEntry)
    plain = _rows(run_id, ids, "hubspot_list:plain")
    fast = _rows(run_id, ids, "hubspot_list:fast")
    with db.begin() as conn:
        if plain:
            conn.execute(table.insert(), [dict(zip(COLUMNS, r, strict=True)) for r in plain])
        assert insert_many(conn, table, COLUMNS, iter(fast)) == n
    want = [r[:2] + r[3:] for r in _stored(db, "hubspot_list:plain")]
    got = [r[:2] + r[3:] for r in _stored(db, "hubspot_list:fast")]
    assert got == want
    assert len(got) == n
    if n:
        assert got[0][-2] == NOW.astimezone(UTC) and got[0][-2].tzinfo is not None
        assert [r[4] for r in got[:5]] == PAYLOADS[: min(n, 5)]


def test_a_failed_bulk_insert_leaves_nothing(db: Engine) -> None:
    run_id, ids = _setup(db, 20)
    table = table_of(OutboxEntry)
    rows = _rows(run_id, ids, "hubspot_list:x")
    rows.append((*rows[0][:3], 10**9, *rows[0][4:]))  # no such contact: the foreign key
    with pytest.raises(Exception), db.begin() as conn:  # noqa: B017, PT011 - driver's own error
        insert_many(conn, table, COLUMNS, rows)
    assert _stored(db, "hubspot_list:x") == []
