"""The split full read (list upward, search downward) against scripted answers; reads sent
together by the enricher.

The two sides run on threads at their own pace; these answers are plain functions over an id
set, so every interleaving the scheduler picks must still hand each contact on exactly once
(or, after a fallback, at least once). The sandbox case lives in
`tests/integration/test_hubspot_split_pull.py`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.hubspot.split import Frontier, SplitAbandonedError, SplitRead
from syncd.errors import ConfigError, Reason, TransientError

Raw = dict[str, Any]


class Portal:
    """Contacts by id, read by a cursor-paged list and an id-sorted search."""

    def __init__(self, ids: list[int], page: int = 7) -> None:
        self.ids = sorted(ids)
        self.page = page
        self.list_calls = 0
        self.search_calls = 0
        self.lock = threading.Lock()

    def list_pages(self) -> Iterator[list[Raw]]:
        for start in range(0, len(self.ids), self.page):
            with self.lock:
                self.list_calls += 1
            yield [{"id": str(i)} for i in self.ids[start : start + self.page]]

    def search(self, body: dict[str, Any]) -> Any:
        with self.lock:
            self.search_calls += 1
        after = int(body["after"])
        below = None
        for group in body["filterGroups"]:
            for f in group["filters"]:
                assert f["propertyName"] == "hs_object_id" and f["operator"] == "LT"
                below = int(f["value"])
        assert body["sorts"] == [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
        found = [i for i in reversed(self.ids) if below is None or i < below]
        chunk = found[after : after + body["limit"]]
        out: dict[str, Any] = {"total": len(found), "results": [{"id": str(i)} for i in chunk]}
        if after + body["limit"] < len(found):
            out["paging"] = {"next": {"after": str(after + body["limit"])}}
        return out


def read(portal: Portal, limit: int = 5) -> tuple[Counter[int], SplitRead]:
    split = SplitRead(portal.list_pages, portal.search, ["email"], limit)
    got: Counter[int] = Counter()
    for page in split.pages():
        got.update(int(r["id"]) for r in page)
    return got, split


@pytest.mark.parametrize("n", [0, 1, 2, 13, 200, 1001])
def test_every_contact_is_handed_on_exactly_once(n: int) -> None:
    ids = [3 * i + 1 for i in range(n)]  # gaps between ids, as deletions leave
    got, _ = read(Portal(ids))
    assert got == Counter(ids)


def test_the_two_sides_stop_where_they_meet() -> None:
    portal = Portal(list(range(1, 2001)), page=10)
    got, _ = read(portal, limit=10)
    assert got == Counter(range(1, 2001))
    # However the threads interleave, together they read one walk's worth of pages, give or
    # take the pages in flight where they meet.
    assert portal.list_calls >= 1 and portal.search_calls >= 1
    assert portal.list_calls + portal.search_calls <= 200 + 3


def test_search_pages_by_key_so_a_contact_deleted_meanwhile_shifts_nothing() -> None:
    portal = Portal(list(range(1, 501)), page=10)
    searched = threading.Event()
    search = portal.search

    def deleting_search(body: dict[str, Any]) -> Any:
        assert body["after"] == "0"  # never an offset
        out = search(body)
        if portal.search_calls == 1:
            with portal.lock:
                portal.ids.remove(495)  # read on the first page; an offset would now skip one
        if portal.search_calls >= 12:
            searched.set()
        return out

    def list_held_back() -> Iterator[list[Raw]]:
        pages = portal.list_pages()
        yield next(pages)
        assert searched.wait(30), "search never got going"
        yield from pages

    split = SplitRead(list_held_back, deleting_search, ["email"], 10)
    got: Counter[int] = Counter()
    for page in split.pages():
        got.update(int(r["id"]) for r in page)
    assert got == Counter(range(1, 501))  # 495 was read before it went; no other was skipped
    assert portal.search_calls >= 12


def test_a_search_that_fails_leaves_the_list_to_read_everything() -> None:
    portal = Portal(list(range(1, 301)))
    calls = 0

    def flaky(body: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise TransientError("HubSpot search answered 502 after 4 attempts")
        return portal.search(body)

    split = SplitRead(portal.list_pages, flaky, ["email"], 5)
    got: Counter[int] = Counter()
    for page in split.pages():
        got.update(int(r["id"]) for r in page)
    assert set(got) == set(range(1, 301))  # nothing lost; some may come twice
    assert max(got.values()) <= 2


def test_a_refused_token_is_not_hidden_by_a_fallback() -> None:
    portal = Portal(list(range(1, 50)))

    def refused(body: dict[str, Any]) -> Any:
        raise ConfigError(
            "401 from HubSpot: check hubspot.access_token", reason=Reason.AUTH_REFUSED
        )

    with pytest.raises(ConfigError):
        for _ in SplitRead(portal.list_pages, refused, ["email"], 5).pages():
            pass


@pytest.mark.parametrize(
    "pages",
    [
        [[1, 2, 3], [2, 5]],  # a list page going back
        [[3, 2, 1]],  # a list page out of order
    ],
)
def test_a_list_out_of_id_order_drops_the_split(pages: list[list[int]]) -> None:
    frontier = Frontier()
    *before, last = pages
    for p in before:
        frontier.from_list([{"id": str(i)} for i in p])
    with pytest.raises(SplitAbandonedError):
        frontier.from_list([{"id": str(i)} for i in last])


def test_search_out_of_order_or_without_ids_drops_the_split() -> None:
    with pytest.raises(SplitAbandonedError):
        Frontier().from_search([{"id": "3"}, {"id": "9"}])
    with pytest.raises(SplitAbandonedError):
        Frontier().from_search([{"id": "not-a-number"}])
    with pytest.raises(SplitAbandonedError):
        Frontier().from_list([{"no": "id"}])


def test_what_each_side_keeps_leaves_no_gap_and_no_double() -> None:
    frontier = Frontier()
    kept_search, done = frontier.from_search([{"id": str(i)} for i in (100, 90, 80)])
    assert [r["id"] for r in kept_search] == ["100", "90", "80"] and not done
    # The list reaches past search's lowest id: it keeps only what search has not read.
    kept_list, done = frontier.from_list([{"id": str(i)} for i in (70, 80, 90)])
    assert [r["id"] for r in kept_list] == ["70"] and done
    # A contact created since search began sits above its top: the list keeps it.
    later = Frontier()
    later.from_search([{"id": "50"}])
    kept, _ = later.from_list([{"id": "10"}, {"id": "60"}])
    assert [r["id"] for r in kept] == ["10", "60"]


def test_independent_reads_run_together_and_come_back_in_order() -> None:
    from connectors.hubspot.enrich import together

    gate = threading.Barrier(3, timeout=30)  # passes only if three calls are in flight at once

    def call(k: int) -> Any:
        def run() -> int:
            gate.wait()
            return k

        return run

    assert together([call(k) for k in range(3)]) == [0, 1, 2]


def test_together_raises_the_first_error_after_every_call_has_ended() -> None:
    from connectors.hubspot.enrich import together

    ended: list[int] = []

    def ok() -> int:
        ended.append(1)
        return 1

    def broken() -> int:
        raise TransientError("HubSpot answered 502 after 4 attempts")

    with pytest.raises(TransientError):
        together([ok, broken, ok, ok])
    assert len(ended) == 3
    assert together([]) == [] and together([ok]) == [1]
