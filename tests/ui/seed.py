"""Rows for console tests, inserted directly: runs (one held, with a pending plan), audit
events with a failure, contacts (one named `<script>`), the ledger and sizes per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.store.models import (
    AuditEvent,
    Contact,
    Hold,
    Membership,
    OutboxEntry,
    RunStatus,
    SyncRun,
)
from syncd.store.types import table_of

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
XSS = "<script>alert('x')</script>"
WS = "default"


@dataclass(frozen=True)
class Seeded:
    """Ids a test needs."""

    ok_run: int
    partial_run: int
    held_run: int
    alice: str = "alice@example.com"
    evil: str = "evil@example.com"


def _insert(conn: Any, model: type[Any], **values: Any) -> int:
    table = table_of(model)
    return int(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _contact(conn: Any, email: str, n: int, **hub: Any) -> int:
    fields = {
        "email": email,
        "first_name": hub.pop("first_name", f"Person{n}"),
        "lifecycle_stage": hub.pop("lifecycle_stage", "customer"),
        "country": "US",
        "open_rate": None,
        **hub,
    }
    attrs = {
        "hubspot": {k: v for k, v in fields.items() if v is not None},
        "mailchimp": {"open_rate": 0.1 * (n % 10), "_status": "subscribed", "_tags": []},
    }
    return _insert(
        conn,
        Contact,
        workspace=WS,
        email=email,
        hubspot_id=str(1000 + n),
        mailchimp_id=f"mc{n}",
        attributes=attrs,
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=1),
    )


def _run(conn: Any, status: str, started: datetime, counts: dict[str, Any], **kw: Any) -> int:
    return _insert(
        conn,
        SyncRun,
        workspace=WS,
        trigger=kw.pop("trigger", "schedule"),
        status=status,
        full=kw.pop("full", False),
        dry_run=False,
        started_at=started,
        finished_at=None if status == RunStatus.RUNNING else started + timedelta(seconds=42),
        counts=counts,
        api_calls=kw.pop("api_calls", 12),
        http_429=kw.pop("http_429", 0),
        **kw,
    )


def seed(db: Engine) -> Seeded:
    """Fill an empty, migrated store; returns the ids tests refer to."""
    tag, lst = "mailchimp_tag:newsletter", "hubspot_list:high-value"
    with db.begin() as conn:
        alice = _contact(conn, "alice@example.com", 1, first_name="Alice")
        evil = _contact(conn, "evil@example.com", 2, first_name=XSS, city=XSS)
        others = [_contact(conn, f"person{i}@example.com", i) for i in range(3, 12)]
        ok = _run(
            conn,
            RunStatus.SUCCESS,
            NOW - timedelta(days=2),
            {
                "targets": {
                    tag: {"planned_add": 3, "added": 3},
                    lst: {"planned_add": 1, "added": 1},
                },
                "pulled": {"hubspot": 11, "mailchimp": 11},
                "api_calls": {"hubspot": 8, "mailchimp": 4},
                "http_429": {},
                "segment_sizes": {"newsletter": 3, "high-value": 1},
            },
            trigger="manual",
            full=True,
        )
        partial = _run(
            conn,
            RunStatus.PARTIAL,
            NOW - timedelta(days=1),
            {
                "targets": {tag: {"planned_add": 2, "added": 1, "rejected": 1}},
                "pulled": {"hubspot": 2},
                "segment_sizes": {"newsletter": 5, "high-value": 2},
            },
            http_429=2,
        )
        held = _run(
            conn,
            RunStatus.HELD,
            NOW - timedelta(hours=1),
            {
                "targets": {tag: {"planned_remove": 9}},
                "held_reasons": [f"would remove 9 of 10 members of {tag} (90% > 20%) {XSS}"],
                "held": {tag: f"would remove 9 of 10 members of {tag} (90% > 20%) {XSS}"},
                "segment_sizes": {"newsletter": 1, "high-value": 2},
            },
        )
        for cid, email in ((alice, "alice@example.com"), (evil, "evil@example.com")):
            _insert(
                conn, AuditEvent, workspace=WS, run_id=ok, at=NOW - timedelta(days=2),
                contact_id=cid, email=email, segment="newsletter", target=tag, action="add",
                reason=f"rule 'newsletter' (segments.yaml: segments[8]) {XSS}", outcome="applied",
            )  # fmt: skip
        _insert(
            conn, AuditEvent, workspace=WS, run_id=ok, at=NOW - timedelta(days=2),
            contact_id=alice, email="alice@example.com", segment="high-value", target=lst,
            action="add", reason="rule 'high-value'", outcome="applied",
        )  # fmt: skip
        _insert(
            conn, AuditEvent, workspace=WS, run_id=partial, at=NOW - timedelta(days=1),
            contact_id=others[0], email="person3@example.com", segment="newsletter", target=tag,
            action="add", reason="rule 'newsletter'", outcome="rejected", error_class="rejected",
            message="mailchimp: HTTP 400: person3@example.com is in compliance state",
            reason_code="member_compliance",
        )  # fmt: skip
        _insert(
            conn, AuditEvent, workspace=WS, run_id=partial, at=NOW - timedelta(days=1),
            contact_id=alice, email="alice@example.com", segment="high-value", target=lst,
            action="remove", reason="left rule 'high-value'", outcome="applied",
        )  # fmt: skip
        _insert(
            conn, Membership, workspace=WS, target=tag, contact_id=alice, state="added",
            run_id=ok, updated_at=NOW - timedelta(days=2),
        )  # fmt: skip
        for cid in [alice, evil, *others[:7]]:
            _insert(
                conn, OutboxEntry, workspace=WS, run_id=held, target=tag, contact_id=cid,
                action="remove", payload={}, reason="left rule 'newsletter'", state="held",
            )  # fmt: skip
        _insert(
            conn, Hold, workspace=WS, target=tag, run_id=held, planned_by_run=held,
            reason=f"would remove 9 of 10 members of {tag}", status="waiting",
            created_at=NOW - timedelta(hours=1), updated_at=NOW - timedelta(hours=1),
        )  # fmt: skip
    return Seeded(ok, partial, held)
