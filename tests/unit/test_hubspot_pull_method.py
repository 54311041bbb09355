"""The HubSpot incremental pull's choice of method (search or list scan) and its cursor text.

A fake client answers the list and search endpoints from one in-memory portal of
`(id, lastmodifieddate)` pairs and records every call, so each test can say which endpoint
the pull used and what it handed on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import FieldMap, Page
from connectors.hubspot.cursor import PullCursor
from connectors.hubspot.method import (
    ReadRates,
    prefer_scan,
    scan_seconds,
    search_seconds,
    worth_counting,
)
from connectors.hubspot.pull import Puller, PullPlan

START_MS = 1_800_000_000_000
HOUR_MS = 3_600_000
PLAN = PullPlan.of(FieldMap.from_paths(hubspot={"email": "email"}).hubspot)


# -- cursor text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms", "lag_free_ms"),
    [
        ("1732800000000", 1_732_800_000_000, 0),  # what older versions stored
        ("2024-11-28T13:20:00Z", 1_732_800_000_000, 0),  # older ISO cursors
        ("2024-11-28T13:20:00+00:00", 1_732_800_000_000, 0),
        ("list:1732800000000", 1_732_800_000_000, 1_732_800_000_000),
        ("1732800300000 list:1732800000000", 1_732_800_300_000, 1_732_800_000_000),
    ],
)
def test_cursor_text_parses_old_and_new_forms(text: str, ms: int, lag_free_ms: int) -> None:
    assert PullCursor.parse(text) == PullCursor(ms, lag_free_ms)


def test_cursor_text_round_trips_and_a_plain_search_cursor_stays_digits() -> None:
    for cursor in (PullCursor(5), PullCursor.listed(7), PullCursor(9, 7)):
        assert PullCursor.parse(cursor.text()) == cursor
    assert PullCursor(1_732_800_000_000).text() == "1732800000000"  # older versions read it
    assert PullCursor.listed(12).text() == "list:12"


def test_a_list_bound_past_the_cursor_is_clamped_to_it() -> None:
    assert PullCursor.parse("100 list:200") == PullCursor(100, 100)


def test_old_cursors_keep_the_overlap_and_list_cursors_do_not() -> None:
    overlap = 300_000
    assert PullCursor(START_MS).contact_anchor(START_MS + 1, overlap) == START_MS - overlap
    assert PullCursor.listed(START_MS).contact_anchor(START_MS + 1, overlap) == START_MS
    # A search run after a list walk: the overlap stops at the walk's start.
    after = PullCursor.listed(START_MS).after_search(START_MS + 60_000)
    assert after.contact_anchor(START_MS + 90_000, overlap) == START_MS
    # ... until the overlap no longer reaches back that far.
    later = after.after_search(START_MS + 10 * overlap)
    assert later.contact_anchor(START_MS + 11 * overlap, overlap) == START_MS + 9 * overlap
    # A cursor later than the run's start (clock moved back) never reads less than the start.
    assert PullCursor.listed(START_MS).contact_anchor(START_MS - 5, overlap) == START_MS - 5


# -- cost model -------------------------------------------------------------------------------


def test_the_echo_of_a_whole_portal_is_quicker_by_list_scan() -> None:
    rates = ReadRates()  # 190 per 10 s, search 4 per s
    # 20k changed of 20k: 99 more search pages at 4/s against 200 list pages at 19/s.
    assert search_seconds(20_000, 200, rates) == pytest.approx(99 / 4)
    assert scan_seconds(20_000, rates) == pytest.approx(200 / 19)
    assert prefer_scan(20_000, 20_000, 200, rates)
    # A few hundred changes in a million contacts: search.
    assert not prefer_scan(600, 1_000_000, 200, rates)
    # Break-even: search's 4x200 per s against the list's 19x100: scan wins only when more
    # than about 42% of the portal changed.
    assert not prefer_scan(40_000, 100_000, 200, rates)
    assert prefer_scan(45_000, 100_000, 200, rates)


def test_counting_the_portal_is_skipped_when_search_cannot_lose() -> None:
    rates = ReadRates()
    assert not worth_counting(150, 200, rates)  # one page: nothing left to read
    assert not worth_counting(400, 200, rates)  # one more page: the count would cost as much
    assert worth_counting(5_000, 200, rates)
    # Rates come from the budgets: with a very fast search limit nothing is worth counting.
    assert not worth_counting(20_000, 200, ReadRates(19.0, 10_000.0))


# -- the pull ---------------------------------------------------------------------------------


class FakePortal:
    """List and search endpoints over `modified` (id → lastmodifieddate), counting calls."""

    def __init__(self, modified: dict[int, int]) -> None:
        self.modified = modified
        self.calls: dict[str, int] = {"list": 0, "search": 0}

    def _json(self, cid: int) -> dict[str, Any]:
        return {
            "id": str(cid),
            "properties": {"email": f"c{cid}@x.test", "lastmodifieddate": str(self.modified[cid])},
        }

    def list_contacts(self, after: str | None, properties: Any, limit: int) -> dict[str, Any]:
        self.calls["list"] += 1
        ids = sorted(self.modified)
        start = int(after or 0)
        body: dict[str, Any] = {"results": [self._json(i) for i in ids[start : start + limit]]}
        if start + limit < len(ids):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return body

    def search_contacts(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls["search"] += 1
        low, high = 0, 2**63
        for f in body["filterGroups"][0]["filters"]:
            if f["operator"] == "GTE":
                low = int(f["value"])
            elif f["operator"] == "LTE":
                high = int(f["value"])
        hits = sorted(
            (i for i, m in self.modified.items() if low <= m <= high),
            key=lambda i: (self.modified[i], i),
        )
        after, limit = int(body.get("after") or 0), int(body["limit"])
        out: dict[str, Any] = {
            "total": len(hits),
            "results": [self._json(i) for i in hits[after : after + limit]],
        }
        if after + limit < len(hits):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return out


def pull(portal: FakePortal, cursor: str, overlap_s: float = 300.0) -> list[Page]:
    client: Any = portal  # duck-typed stand-in for `HubSpotClient`
    puller = Puller(client, PLAN, lambda: datetime.fromtimestamp(START_MS / 1000, UTC), overlap_s)
    return list(puller.pull(cursor, full=False))


def run(portal: FakePortal, cursor: str, overlap_s: float = 300.0) -> tuple[set[str], str]:
    pages = pull(portal, cursor, overlap_s)
    last = pages[-1].cursor
    assert last is not None
    return {r.source_id for p in pages for r in p.records}, last


def test_an_echo_across_the_portal_is_read_by_one_list_walk() -> None:
    since = START_MS - HOUR_MS
    old = {i: since - 1_000 for i in range(1, 1_001)}  # unchanged since the cursor
    echo = {i: since + i for i in range(1_001, 5_001)}  # 4,000 written after it
    portal = FakePortal(old | echo)
    pages = pull(portal, PullCursor.listed(since).text())
    assert {r.source_id for p in pages for r in p.records} == {str(i) for i in echo}
    assert portal.calls == {"search": 2, "list": 50}  # first page + count, then the walk
    # The list is in id order, not time order: no cursor until the walk is done, and then a
    # lag-free one.
    assert [p.cursor for p in pages[:-1]] == [None] * (len(pages) - 1)
    assert pages[-1].cursor == f"list:{START_MS}"


def test_a_few_changes_are_read_by_search() -> None:
    since = START_MS - HOUR_MS
    portal = FakePortal(
        {i: since - 1_000 for i in range(1, 4_001)} | {i: since + i for i in range(4_001, 4_451)}
    )
    ids, cursor = run(portal, f"list:{since}")
    assert ids == {str(i) for i in range(4_001, 4_451)}
    assert portal.calls == {"search": 3, "list": 0}  # 450 at 200 a page; no count needed
    assert PullCursor.parse(cursor) == PullCursor(START_MS, since)


def test_an_old_cursor_reads_its_overlap_window() -> None:
    since = START_MS - HOUR_MS
    portal = FakePortal({1: since - 200_000, 2: since - 400_000, 3: since + 5})
    ids, _ = run(portal, str(since))  # as older versions stored it: a search cursor
    assert ids == {"1", "3"}  # 200 s before the cursor is inside the 300 s overlap
    ids, _ = run(portal, f"list:{since}")  # after a list walk: no overlap
    assert ids == {"3"}
