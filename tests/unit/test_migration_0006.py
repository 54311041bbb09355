"""Migration 0006 on both databases: addresses stop being unique, nothing that refers to a
contact is lost (SQLite copies the table), and members keep the address they are written at."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData, Table, select

from syncd.store import make_engine, upgrade
from syncd.store.models import Contact, Membership, OutboxEntry
from syncd.store.types import table_of

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_0006_keeps_every_row_and_fills_the_members_address(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0005")
    db = make_engine(empty_db_url)
    with db.begin() as conn:
        meta = MetaData()
        t = {n: Table(n, meta, autoload_with=conn) for n in ("contacts", "memberships", "outbox")}
        t_runs = Table("sync_runs", meta, autoload_with=conn)
        stamp = {"workspace": "default", "created_at": T0, "updated_at": T0, "attributes": {}}
        conn.execute(
            t["contacts"].insert(),
            [
                {**stamp, "id": 1, "email": "ann@example.com", "hubspot_id": "1",
                 "mailchimp_id": "h1"},
                {**stamp, "id": 2, "email": "bob@example.com", "hubspot_id": "2",
                 "mailchimp_id": None},
            ],
        )  # fmt: skip
        conn.execute(
            t_runs.insert().values(
                id=1, workspace="default", trigger="manual", status="success", full=False,
                dry_run=False, started_at=T0, counts={}, api_calls=0, http_429=0,
            )
        )  # fmt: skip
        conn.execute(
            t["memberships"].insert().values(
                workspace="default", target="mailchimp_tag:vip", contact_id=1, state="added",
                updated_at=T0,
            )
        )  # fmt: skip
        conn.execute(
            t["outbox"].insert().values(
                workspace="default", run_id=1, target="hubspot_list:vip", contact_id=2,
                action="add", payload={}, state="pending", attempts=0, created_at=T0,
                updated_at=T0,
            )
        )  # fmt: skip
    db.dispose()
    upgrade(empty_db_url)
    db = make_engine(empty_db_url)
    try:
        with db.begin() as conn:
            c = table_of(Contact).c
            rows = conn.execute(select(c.id, c.mailchimp_email).order_by(c.id)).all()
            assert [tuple(r) for r in rows] == [(1, "ann@example.com"), (2, None)]
            assert len(conn.execute(select(table_of(Membership))).all()) == 1
            assert len(conn.execute(select(table_of(OutboxEntry))).all()) == 1
            # Two records may now share an address.
            conn.execute(
                table_of(Contact).insert().values(
                    id=3, workspace="default", email="ann@example.com", hubspot_id="3",
                    attributes={},
                    created_at=T0, updated_at=T0,
                )
            )  # fmt: skip
    finally:
        db.dispose()
