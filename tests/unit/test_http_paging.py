"""The one pager, on plain dicts: cursor and offset strategies, last pages, and the loop guard."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from syncd.errors import InternalError
from syncd.failures import Reason
from syncd.http import CursorPaging, Offset, OffsetPaging, PageToken, paginate

NEXT = CursorPaging(("paging", "next", "after"))


def cursor_api(pages: Mapping[str | None, dict[str, Any]]) -> Callable[[PageToken], dict[str, Any]]:
    """An endpoint answering `pages[token]`, recording the tokens it was asked for."""

    def fetch(cursor: PageToken) -> dict[str, Any]:
        asked.append(cursor.token)
        return pages[cursor.token]

    asked: list[str | None] = []
    fetch.asked = asked  # type: ignore[attr-defined]  # read back by the tests
    return fetch


def page(ids: list[int], after: object = None) -> dict[str, Any]:
    body: dict[str, Any] = {"results": [{"id": i} for i in ids]}
    if after is not None:
        body["paging"] = {"next": {"after": after}}
    return body


def ids_of(pages: Any) -> list[int]:
    return [r["id"] for p in pages for r in p.data["results"]]


def test_a_cursor_read_follows_each_token_to_the_page_without_one() -> None:
    fetch = cursor_api({None: page([1, 2], "b"), "b": page([3], 7), "7": page([4])})
    pages = list(paginate("GET /things", fetch, NEXT))
    assert ids_of(pages) == [1, 2, 3, 4]
    assert fetch.asked == [None, "b", "7"]  # type: ignore[attr-defined]
    assert [p.last for p in pages] == [False, False, True]
    assert [p.position for p in pages] == [PageToken(), PageToken("b"), PageToken("7")]


@pytest.mark.parametrize("after", [None, ""])
def test_a_single_page_is_the_last_one(after: object) -> None:
    first = page([1]) if after is None else {**page([1]), "paging": {"next": {"after": after}}}
    (only,) = paginate("GET /things", cursor_api({None: first}), NEXT)
    assert only.last and ids_of([only]) == [1]


def test_an_empty_first_page_ends_the_read() -> None:
    assert ids_of(paginate("GET /things", cursor_api({None: {"results": []}}), NEXT)) == []


@pytest.mark.parametrize(
    ("pages", "handed_on"),
    [
        ({None: page([1], "a"), "a": page([2], "a")}, [1]),  # the same token twice in a row
        ({None: page([1], "a"), "a": page([2], "b"), "b": page([3], "a")}, [1, 2]),  # a circle
    ],
    ids=["repeated", "circle"],
)
def test_a_repeated_token_stops_the_read_naming_the_endpoint(
    pages: dict[str | None, dict[str, Any]], handed_on: list[int]
) -> None:
    read = paginate("GET /crm/v3/lists/{listId}/memberships", cursor_api(pages), NEXT)
    seen: list[int] = []

    def drain() -> None:
        for p in read:
            seen.extend(r["id"] for r in p.data["results"])

    with pytest.raises(InternalError, match=r"GET /crm/v3/lists/\{listId\}/memberships") as info:
        drain()
    assert "'a'" in str(info.value) and info.value.reason is Reason.INTERNAL
    # Never a silent end: the page that pointed back is not handed on as if it were the last.
    assert seen == handed_on


def offset_api(
    items: list[int], *, page_size: int, totals: list[int] | None = None
) -> Callable[[Offset], dict[str, Any]]:
    """An endpoint serving `items[offset:offset + page_size]`; `totals` overrides the total
    each answer reports, in order (to model items leaving a window).
    """
    reported = list(totals or [])

    def fetch(at: Offset) -> dict[str, Any]:
        fetch.asked.append(at.offset)  # type: ignore[attr-defined]
        total = reported.pop(0) if reported else len(items)
        return {"members": items[at.offset : at.offset + page_size], "total_items": total}

    fetch.asked = []  # type: ignore[attr-defined]
    return fetch


def members(pages: Any) -> list[int]:
    return [m for p in pages for m in p.data["members"]]


def test_an_offset_read_counts_items_until_the_total() -> None:
    fetch = offset_api(list(range(7)), page_size=3)
    pages = list(paginate("GET /members", fetch, OffsetPaging("members")))
    assert members(pages) == list(range(7))
    assert fetch.asked == [0, 3, 6]  # type: ignore[attr-defined]
    assert [p.last for p in pages] == [False, False, True]


def test_an_offset_read_ends_on_a_full_last_page_without_asking_again() -> None:
    fetch = offset_api(list(range(6)), page_size=3)
    assert members(paginate("GET /members", fetch, OffsetPaging("members"))) == list(range(6))
    assert fetch.asked == [0, 3]  # type: ignore[attr-defined]


def test_an_empty_page_ends_an_offset_read_even_below_the_total() -> None:
    fetch = offset_api([], page_size=3, totals=[5])
    pages = list(paginate("GET /members", fetch, OffsetPaging("members")))
    assert members(pages) == [] and pages[0].last


def test_a_short_page_is_the_last_when_the_page_size_is_known() -> None:
    fetch = offset_api(list(range(5)), page_size=2, totals=[9, 9, 9])
    strategy = OffsetPaging("members", page_size=3)
    assert members(paginate("GET /members", fetch, strategy)) == [0, 1]


def test_the_offset_steps_back_when_items_leave_the_window() -> None:
    # Ten items; after the first page, two of them leave: the total drops from 10 to 8.
    fetch = offset_api(list(range(10)), page_size=4, totals=[10, 8, 8])
    strategy = OffsetPaging("members", page_size=4, follow_shrink=True)
    list(paginate("GET /members", fetch, strategy))
    assert fetch.asked == [0, 4, 6]  # type: ignore[attr-defined]  # 4 + 4 - 2


def test_without_follow_shrink_the_offset_only_moves_forward() -> None:
    fetch = offset_api(list(range(10)), page_size=4, totals=[10, 8, 8])
    list(paginate("GET /members", fetch, OffsetPaging("members", page_size=4)))
    assert fetch.asked == [0, 4]  # type: ignore[attr-defined]  # 8 >= the total of 8


def test_an_offset_that_does_not_move_stops_the_read_naming_the_endpoint() -> None:
    # A strategy that never moves (an API whose pages do not advance) meets the guard.
    def fetch(at: Offset) -> dict[str, Any]:
        return {"members": [1, 2], "total_items": 10}

    class Stuck(OffsetPaging):
        def next(self, position: Offset, data: Mapping[str, Any]) -> Offset | None:
            return Offset(position.offset, 10)

    with pytest.raises(InternalError, match=r"GET /lists/\{list_id\}/members"):
        list(paginate("GET /lists/{list_id}/members", fetch, Stuck("members")))


def test_the_same_offset_with_a_smaller_total_is_progress_not_a_loop() -> None:
    # Each page's items all left the window: the step back returns to the same offset, but the
    # total shrank, so the read goes on until the window is empty.
    totals = [6, 4, 2]

    def fetch(at: Offset) -> dict[str, Any]:
        return {"members": [at.offset, at.offset + 1], "total_items": totals.pop(0)}

    strategy = OffsetPaging("members", follow_shrink=True)
    pages = list(paginate("GET /members", fetch, strategy))
    assert [p.position for p in pages] == [Offset(0), Offset(2, 6), Offset(2, 4)]
    assert pages[-1].last  # 2 - (4 - 2) + 2 reaches the total of 2


def test_pages_are_fetched_lazily() -> None:
    fetch = cursor_api({None: page([1], "a"), "a": page([2])})
    read = paginate("GET /things", fetch, NEXT)
    assert fetch.asked == []  # type: ignore[attr-defined]
    next(read)
    assert fetch.asked == [None]  # type: ignore[attr-defined]
