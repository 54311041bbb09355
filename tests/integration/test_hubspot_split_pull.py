"""HubSpot full pulls from both ends (list upward, search downward) against the sandbox.

The split must read what a list walk reads, each contact once, and its blind spot (search
indexing lag hides a contact edited moments before) must never make a living contact count as
gone: the engine asks the connector about every unseen contact before its sweep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from connectors.base import FieldMap
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.cursor import PullCursor
from syncd.engine.pull import pull_all
from syncd.http import RetrySettings
from syncd.sandbox import Sandbox
from syncd.store import Contact
from syncd.store.types import table_of
from tests.support.sandboxes import as_person, start_sandbox

FIELDS = FieldMap.from_paths(hubspot={"email": "email", "first_name": "firstname"})
HOUR_MS = 3_600_000
WS = "default"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with start_sandbox(600, seed=9) as sandbox:
        yield sandbox


def connector(sb: Sandbox, *, split: bool = True) -> HubSpotConnector:
    return HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        split_reads=split,
    )


def search_goes_first(c: HubSpotConnector, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the list after its first page until search has answered twice.

    Which side reaches a contact first is up to the scheduler; on a busy machine the list
    could read all 600 before search's first answer, and the pull would then be a plain list
    walk. Holding the list makes search's share certain.
    """
    answered = threading.Semaphore(0)
    search, listing = c.client.search_contacts, c.client.list_contacts
    calls = 0

    def counted_search(*args: Any, **kwargs: Any) -> Any:
        out = search(*args, **kwargs)
        answered.release()
        return out

    def held_list(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            for _ in range(2):
                assert answered.acquire(timeout=30), "search never answered"
        return listing(*args, **kwargs)

    monkeypatch.setattr(c.client, "search_contacts", counted_search)
    monkeypatch.setattr(c.client, "list_contacts", held_list)


def full_pull(sb: Sandbox, db: Engine, c: HubSpotConnector) -> Any:
    figures = pull_all(
        db, WS, {"hubspot": c}, full=True, run_id=None, clock=lambda: datetime.now(UTC)
    )
    return figures["hubspot"]


def stored(db: Engine) -> dict[str, Any]:
    t = table_of(Contact)
    with db.connect() as conn:
        rows = conn.execute(select(t.c.hubspot_id, t.c.attributes).where(t.c.workspace == WS))
        return {r.hubspot_id: r.attributes for r in rows if r.hubspot_id is not None}


def test_a_split_full_pull_reads_what_a_list_walk_reads(
    sb: Sandbox, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connector(sb)
    search_goes_first(c, monkeypatch)
    pages = list(c.pull(None, full=True))
    ids = [r.source_id for p in pages for r in p.records]
    assert len(ids) == len(set(ids))  # each contact once
    walked = [r for p in connector(sb, split=False).pull(None, full=True) for r in p.records]
    assert {r.source_id: r.fields for r in walked} == {
        r.source_id: r.fields for p in pages for r in p.records
    }
    calls = c.stats.endpoints("hubspot")
    assert calls["POST /crm/v3/objects/contacts/search"].api_calls >= 1
    # Search lags, so the next run reaches back an overlap window: a search cursor.
    last = next(p.cursor for p in reversed(pages) if p.cursor is not None)
    assert PullCursor.parse(last).lag_free_ms == 0


def test_a_contact_hidden_by_search_lag_is_read_by_id_not_taken_for_gone(
    sb: Sandbox, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connector(sb)
    full_pull(sb, db, c)
    kept = set(stored(db))  # the seed holds a few contacts syncd rejects (hostile emails)
    assert len(kept) > 590
    top, second = sorted((int(i) for i in kept), reverse=True)[:2]
    # A person edits the newest contact and deletes the one below it; search's index has
    # not caught up with either (an hour of lag), so search, which starts from the top, sees
    # neither, and the list stops where it meets search.
    as_person(sb, "PATCH", f"/crm/v3/objects/contacts/{top}", {"properties": {"firstname": "Late"}})
    as_person(sb, "DELETE", f"/crm/v3/objects/contacts/{second}").raise_for_status()
    r = requests.post(
        f"{sb.base_url}/_sandbox/faults", json={"search_delay_ms": HOUR_MS}, timeout=10
    )
    r.raise_for_status()
    search_goes_first(c, monkeypatch)
    before = c.stats.endpoints("hubspot").get("POST /crm/v3/objects/contacts/batch/read")
    figures = full_pull(sb, db, c)
    after = c.stats.endpoints("hubspot")["POST /crm/v3/objects/contacts/batch/read"]
    assert after.api_calls > (before.api_calls if before else 0)  # asked about the unseen
    profiles = stored(db)
    assert profiles[str(top)]["hubspot"]["first_name"] == "Late"  # read by id, stored
    assert figures.departed == 1  # the deleted one, and only it, has gone
    with db.connect() as conn:
        t = table_of(Contact)
        gone = conn.execute(
            select(t.c.hubspot_id).where(t.c.workspace == WS, t.c.hubspot_id == str(second))
        ).first()
    assert gone is None
