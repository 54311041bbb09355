"""Undo on both databases: which changes revert a run, and which are left alone and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import Engine

from syncd.engine.ledger import load_ledger, set_ledger
from syncd.engine.plan import Action, Change, properties_value
from syncd.engine.undo import undo_changes
from syncd.errors import ConfigError
from syncd.store.models import AuditEvent, Contact, OutboxEntry, SyncRun
from syncd.store.types import table_of, utcnow

WS = "default"
T0 = datetime(2026, 5, 1, tzinfo=UTC)
LIST = "hubspot_list:vip"
TAG = "mailchimp_tag:vip"
PROPS = "hubspot_property:syncd"
_minutes = count()


def contact(db: Engine, email: str, *, hubspot: bool = True, status: str | None = None) -> int:
    attrs = {"mailchimp": {"_status": status}} if status else {}
    with db.begin() as conn:
        return int(
            conn.execute(
                table_of(Contact)
                .insert()
                .values(
                    workspace=WS,
                    email=email,
                    hubspot_id=f"h-{email}" if hubspot else None,
                    mailchimp_id=f"m-{email}" if status else None,
                    attributes=attrs,
                    created_at=T0,
                    updated_at=T0,
                )
                .returning(table_of(Contact).c.id)
            ).scalar_one()
        )


def run(db: Engine, run_id: int, status: str = "success", workspace: str = WS) -> int:
    with db.begin() as conn:
        conn.execute(
            table_of(SyncRun).insert(),
            [
                {
                    "id": run_id,
                    "workspace": workspace,
                    "trigger": "schedule",
                    "status": status,
                    "started_at": T0 + timedelta(hours=run_id),
                    "counts": {},
                }
            ],
        )
    return run_id


def event(
    db: Engine,
    run_id: int,
    contact_id: int,
    target: str,
    action: str,
    outcome: str = "applied",
    value: str | None = None,
) -> None:
    with db.begin() as conn:
        conn.execute(
            table_of(AuditEvent).insert(),
            [
                {
                    "workspace": WS,
                    "run_id": run_id,
                    "at": T0 + timedelta(minutes=next(_minutes)),
                    "contact_id": contact_id,
                    "email": f"c{contact_id}@example.com",
                    "target": target,
                    "action": action,
                    "outcome": outcome,
                    "value": value,
                }
            ],
        )


def ledger(db: Engine, rows: list[tuple[str, int, str, str | None]], run_id: int) -> None:
    with db.begin() as conn:
        set_ledger(conn, WS, rows, run_id, now=utcnow())


def undo(db: Engine, run_id: int) -> list[Change]:
    with db.connect() as conn:
        return undo_changes(conn, WS, run_id, load_ledger(conn, WS))


@pytest.fixture
def people(db: Engine) -> dict[str, int]:
    return {
        "ann": contact(db, "ann@example.com", status="subscribed"),
        "bob": contact(db, "bob@example.com", status="unsubscribed"),
        "cat": contact(db, "cat@example.com", hubspot=False, status="subscribed"),
    }


def test_adds_become_removes_and_removes_become_adds(db: Engine, people: dict[str, int]) -> None:
    ann, cat = people["ann"], people["cat"]
    run(db, 1)
    run(db, 2)
    event(db, 1, ann, TAG, "add")
    ledger(db, [(TAG, ann, "added", None)], 1)
    event(db, 2, ann, LIST, "add")
    event(db, 2, cat, TAG, "remove")
    event(db, 2, ann, TAG, "add", outcome="rejected")  # not applied: nothing to revert
    ledger(db, [(LIST, ann, "added", None), (TAG, cat, "removed", None)], 2)
    assert undo(db, 2) == [
        Change(LIST, ann, Action.REMOVE, "undo of run 2"),
        Change(TAG, cat, Action.ADD, "undo of run 2"),
    ]


def test_changes_made_since_are_left_alone(db: Engine, people: dict[str, int]) -> None:
    ann, cat = people["ann"], people["cat"]
    for n in (1, 2):
        run(db, n)
    event(db, 1, ann, LIST, "add")
    event(db, 1, cat, TAG, "add")
    event(db, 1, ann, TAG, "add")
    ledger(db, [(LIST, ann, "added", None), (TAG, cat, "added", None)], 1)
    event(db, 2, cat, TAG, "remove")  # a later run removed it
    ledger(db, [(TAG, cat, "removed", None)], 2)
    ledger(db, [(TAG, ann, "drift_removed", None)], 2)  # a person removed it by hand
    assert undo(db, 1) == [Change(LIST, ann, Action.REMOVE, "undo of run 1")]


def test_a_later_readd_is_not_undone_by_undoing_the_first_add(
    db: Engine, people: dict[str, int]
) -> None:
    ann = people["ann"]
    for n in (1, 2, 3):
        run(db, n)
    event(db, 1, ann, LIST, "add")
    event(db, 2, ann, LIST, "remove")
    event(db, 3, ann, LIST, "add")
    ledger(db, [(LIST, ann, "added", None)], 3)
    with pytest.raises(ConfigError, match="nothing of run 1 can be undone"):
        undo(db, 1)


def test_undo_never_tags_a_member_without_consent(db: Engine, people: dict[str, int]) -> None:
    ann, bob = people["ann"], people["bob"]
    run(db, 1)
    event(db, 1, bob, TAG, "remove")
    event(db, 1, ann, TAG, "remove")
    ledger(db, [(TAG, bob, "removed", None), (TAG, ann, "removed", None)], 1)
    assert undo(db, 1) == [Change(TAG, ann, Action.ADD, "undo of run 1")]


def test_only_contacts_present_in_the_target_system(db: Engine, people: dict[str, int]) -> None:
    cat = people["cat"]  # no HubSpot id
    run(db, 1)
    event(db, 1, cat, LIST, "remove")
    ledger(db, [(LIST, cat, "removed", None)], 1)
    with pytest.raises(ConfigError, match="out of reach \\(1\\)"):
        undo(db, 1)


def test_set_goes_back_to_the_previous_value(db: Engine, people: dict[str, int]) -> None:
    ann, bob = people["ann"], people["bob"]
    first = properties_value(["vip"], "trial")
    second = properties_value(["vip", "power"], "customer")
    run(db, 1)
    run(db, 2)
    event(db, 1, ann, PROPS, "set", value=first)
    event(db, 2, ann, PROPS, "set", value=second)
    event(db, 2, bob, PROPS, "set", value=second)  # bob had no value before run 2
    ledger(db, [(PROPS, ann, "set", second), (PROPS, bob, "set", second)], 2)
    assert undo(db, 2) == [
        Change(PROPS, ann, Action.SET, "undo of run 2", first),
        Change(PROPS, bob, Action.SET, "undo of run 2", properties_value([], None)),
    ]


def test_previous_value_falls_back_to_the_outbox(db: Engine, people: dict[str, int]) -> None:
    ann = people["ann"]
    first = properties_value(["vip"], "trial")
    run(db, 1)
    run(db, 2)
    event(db, 1, ann, PROPS, "set")  # written before audit rows carried values
    with db.begin() as conn:
        conn.execute(
            table_of(OutboxEntry).insert(),
            [
                {
                    "workspace": WS,
                    "run_id": 1,
                    "target": PROPS,
                    "contact_id": ann,
                    "action": "set",
                    "payload": {"value": first},
                    "state": "done",
                    "created_at": T0,
                    "updated_at": T0,
                }
            ],
        )
    event(db, 2, ann, PROPS, "set", value="x")
    ledger(db, [(PROPS, ann, "set", "x")], 2)
    assert undo(db, 2) == [Change(PROPS, ann, Action.SET, "undo of run 2", first)]


def test_unknown_previous_value_is_not_guessed(db: Engine, people: dict[str, int]) -> None:
    ann = people["ann"]
    run(db, 1)
    run(db, 2)
    event(db, 1, ann, PROPS, "set")  # value unknown, outbox pruned
    event(db, 2, ann, PROPS, "set", value="x")
    ledger(db, [(PROPS, ann, "set", "x")], 2)
    with pytest.raises(ConfigError, match="nothing of run 2"):
        undo(db, 2)


def test_undoing_an_undo_restores_the_original(db: Engine, people: dict[str, int]) -> None:
    ann = people["ann"]
    run(db, 1)
    run(db, 2)
    event(db, 1, ann, LIST, "add")
    event(db, 2, ann, LIST, "remove")  # run 2 is the undo of run 1
    ledger(db, [(LIST, ann, "removed", None)], 2)
    assert undo(db, 2) == [Change(LIST, ann, Action.ADD, "undo of run 2")]
    with pytest.raises(ConfigError, match="nothing of run 1"):
        undo(db, 1)  # already undone by run 2


def test_unknown_run(db: Engine) -> None:
    with pytest.raises(ConfigError, match="no run 99 in workspace default"):
        undo(db, 99)


def test_run_of_another_workspace_is_unknown(db: Engine) -> None:
    run(db, 5, workspace="other")
    with pytest.raises(ConfigError, match="no run 5"):
        undo(db, 5)


def test_run_with_nothing_applied(db: Engine, people: dict[str, int]) -> None:
    run(db, 1, status="held")
    event(db, 1, people["ann"], LIST, "add", outcome="retry")
    with pytest.raises(ConfigError, match="run 1 applied no changes"):
        undo(db, 1)


def test_running_run_is_refused(db: Engine) -> None:
    run(db, 1, status="running")
    with pytest.raises(ConfigError, match="still running"):
        undo(db, 1)
