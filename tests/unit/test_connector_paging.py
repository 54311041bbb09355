"""Every paged connector read goes through the pager: loops stop loudly, search re-anchors.

The HubSpot search window is driven by a fake search endpoint that answers from a sorted list
of `(id, lastmodifieddate)` pairs, with the result cap made small.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connectors.hubspot import search
from connectors.hubspot.client import SEARCH_CONTACTS
from connectors.hubspot.search import SearchQuery, SearchWindow
from connectors.hubspot.write import HubSpotWriter
from syncd.engine.drift import detect_drift
from syncd.errors import InternalError
from syncd.http import paginate
from syncd.store import AuditEvent, Contact, Membership, RemoteTarget, SyncRun, session_scope
from syncd.store.types import table_of, utcnow

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


def test_no_connector_writes_its_own_paging_loop() -> None:
    endless = []
    for path in sorted(CONNECTORS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.While) and isinstance(node.test, ast.Constant):
                endless.append(str(path.relative_to(CONNECTORS)))
    # The prefetch thread's queue, which pages nothing, now lives in syncd.producers.
    assert endless == []


class MembersClient:
    """The one `HubSpotClient` method the members reader calls, answering from `pages`."""

    def __init__(self, pages: dict[str | None, dict[str, Any]]) -> None:
        self.pages = pages

    def list_members(self, list_id: str, after: str | None) -> dict[str, Any]:
        return self.pages[after]


def members_page(ids: list[int], after: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"results": [{"recordId": i} for i in ids]}
    if after is not None:
        body["paging"] = {"next": {"after": after}}
    return body


def hubspot_reader(pages: dict[str | None, dict[str, Any]]) -> HubSpotWriter:
    client: Any = MembersClient(pages)  # duck-typed stand-in for `HubSpotClient`
    return HubSpotWriter(client)


def test_hubspot_list_members_are_read_to_the_last_page() -> None:
    reader = hubspot_reader(
        {None: members_page([1, 2], "x"), "x": members_page([3], "y"), "y": members_page([], None)}
    )
    assert list(reader.read_members("9")) == ["1", "2", "3"]


def test_a_repeated_members_cursor_is_an_error_not_the_end_of_the_list() -> None:
    reader = hubspot_reader({None: members_page([1], "x"), "x": members_page([2], "x")})
    with pytest.raises(InternalError, match=r"memberships.*'x'"):
        list(reader.read_members("9"))


class LoopingReader:
    """A members reader whose API pages in a circle after the first member."""

    def read_members(self, remote_id: str) -> Any:
        return hubspot_reader(
            {None: members_page([101], "x"), "x": members_page([102], "x")}
        ).read_members(remote_id)


def test_drift_does_not_take_unread_members_as_removed_by_hand(db: Engine) -> None:
    with session_scope(db) as session:
        run = SyncRun(trigger="reconcile")
        session.add(run)
        for n in (101, 102, 103):
            session.add(Contact(email=f"p{n}@example.com", hubspot_id=str(n)))
        session.add(RemoteTarget(target="hubspot_list:vip", remote_id="9", name="syncd: vip"))
        session.flush()
        assert run.id is not None
        run_id = run.id
    with db.begin() as conn:
        ids = [r[0] for r in conn.execute(select(table_of(Contact).c.id))]
        conn.execute(
            table_of(Membership).insert(),
            [
                {"workspace": "default", "target": "hubspot_list:vip", "contact_id": i,
                 "state": "added", "run_id": run_id, "updated_at": utcnow()}
                for i in ids
            ],
        )  # fmt: skip
    with pytest.raises(InternalError):
        detect_drift(db, "default", run_id, {"hubspot": LoopingReader()}, now=utcnow())
    with db.connect() as conn:
        states = {s for (s,) in conn.execute(select(table_of(Membership).c.state))}
        drift = conn.execute(select(table_of(AuditEvent).c.id)).all()
    assert states == {"added"} and drift == []


# -- HubSpot search ---------------------------------------------------------------------------

CAP = 6


def search_api(contacts: list[tuple[str, int]], limit: int) -> Any:
    """Search over `(id, modified ms)` pairs, sorted ascending, capped at `CAP` per query."""

    def fetch(query: SearchQuery) -> dict[str, Any]:
        fetch.queries.append((query.anchor, query.after))  # type: ignore[attr-defined]
        matching = [c for c in contacts if c[1] >= query.anchor]
        assert query.after + limit <= CAP, "asked past the cap"
        window = matching[query.after : query.after + limit]
        body: dict[str, Any] = {
            "results": [
                {"id": cid, "properties": {"lastmodifieddate": str(ms)}} for cid, ms in window
            ]
        }
        if query.after + limit < len(matching):
            body["paging"] = {"next": {"after": str(query.after + limit)}}
        return body

    fetch.queries = []  # type: ignore[attr-defined]
    return fetch


def read_window(contacts: list[tuple[str, int]], limit: int) -> tuple[list[str], Any]:
    window = SearchWindow(0, limit)
    fetch = search_api(contacts, limit)
    ids = [
        str(r["id"])
        for page in paginate(SEARCH_CONTACTS, fetch, window)
        for r in window.unseen(page.position, page.data)
    ]
    return ids, fetch


def test_search_re_anchors_before_the_cap_and_reads_each_contact_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "SEARCH_CAP", CAP)
    contacts = [(f"c{n}", 1000 + n // 2) for n in range(15)]  # two contacts per millisecond
    ids, fetch = read_window(contacts, 2)
    assert ids == [c for c, _ in contacts]
    # Offsets 0, 2, 4 within a query; the next would cross the cap, so a new query starts at
    # the newest time read, skipping the contact already read at that time.
    assert fetch.queries[:4] == [(0, 0), (0, 2), (0, 4), (1002, 0)]


def test_search_with_more_contacts_at_one_time_than_the_cap_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "SEARCH_CAP", CAP)
    contacts = [(f"c{n}", 1000) for n in range(10)]
    with pytest.raises(InternalError, match="run a full pull"):
        read_window(contacts, 2)
