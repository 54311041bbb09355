"""A full read of the contacts from both ends at once: the list upward, search downward.

The list endpoint pages by cursor, so its pages come one after another: with real network
latency (100-300 ms a call) a walk of 1M contacts waits 10,000 round trips in a row, longer
than the rate limit needs. Search has a budget of its own, outside the general window
(api-facts 1.4), and sorts by `hs_object_id`: reading from the top id down while the list
reads from the bottom up, the two meet in the middle in about the time of the faster share.

Who hands on what (`Frontier`, under one lock per page): the list keeps an id below the lowest
id search has read (or above the highest, created since search began); search keeps an id
above the highest the list has read. A contact is therefore handed on at most once, and one in
neither range has been read by the side that reached it first. Each side stops when the two
ranges touch.

Search pages by key, not by offset: each page asks for the highest ids below the lowest read
so far (`hs_object_id` LT, the way HubSpot's search guide reads past its 10,000-result cap).
An offset would shift when a contact above it is created or deleted mid-read, skipping or
repeating one; a key does not.

This rests on the list paging in ascending id order, as HubSpot's does (its `after` is the
next id) and as the checks here verify page by page; search's order is asked for and checked
the same way. Any surprise (pages out of order, a search that fails after its retries) drops
the split: both sides stop and the list is walked again from the start, as without it; what
was handed on already may then be handed on twice, which the store's merge absorbs. A search
refused for the token or its scopes is not a surprise: the list would be refused the same.

Search lags behind edits (api-facts 1.2): a contact edited moments before search reaches its
id may be missing from search's answer. So a pull that read through search leaves a search
cursor (the next run reaches back an overlap window), and the engine has the contacts it did
not see read again by id before it treats them as gone (`Puller.still_present`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.hubspot.client import NEXT_PAGE, SEARCH_CONTACTS
from syncd.errors import InternalError, TransientError
from syncd.events import Event
from syncd.http import paginate
from syncd.http.paging import dig
from syncd.logs import get_logger
from syncd.producers import drain

log = get_logger(__name__)

Raw = dict[str, Any]
#: Pages waiting between the two readers and the caller.
DEPTH = 8


class SplitAbandonedError(Exception):
    """The split read met something its reasoning does not cover; walk the list instead."""


@dataclass(frozen=True, slots=True)
class IdQuery:
    """One search page: the highest ids below `below` (None: from the top)."""

    below: int | None = None


class IdPaging:
    """Search paging by key: each page starts below the lowest id of the page before."""

    @staticmethod
    def first() -> IdQuery:
        """From the top."""
        return IdQuery()

    @staticmethod
    def next(query: IdQuery, data: Mapping[str, Any]) -> IdQuery | None:
        """Below the lowest id read, while search says more follow."""
        ids = [i for i in map(record_id, data.get("results") or []) if i is not None]
        if dig(data, NEXT_PAGE) is None or not ids:
            return None
        return IdQuery(min(ids))


class Frontier:
    """Where the two readers stand; decides what each hands on (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Every id up to here has been read by the list.
        self.low = -1
        #: Every id from here up to `top` has been read by search.
        self.high = math.inf
        self.top = -math.inf
        #: Contacts handed on from search.
        self.searched = 0

    def met(self) -> bool:
        """Whether the two ranges touch: every contact has been read by one side."""
        return self.low >= self.high

    def from_list(self, results: Sequence[Raw]) -> tuple[list[Raw], bool]:
        """The list page's contacts to hand on, and whether the list may stop."""
        ids = _ids(results, "list")
        with self._lock:
            if ids and (ids != sorted(ids) or ids[0] <= self.low):
                raise SplitAbandonedError("list page not in ascending id order")
            kept = [r for r, i in zip(results, ids, strict=True) if i < self.high or i > self.top]
            if ids:
                self.low = ids[-1]
            return kept, self.met()

    def from_search(self, results: Sequence[Raw]) -> tuple[list[Raw], bool]:
        """The search page's contacts to hand on, and whether search may stop."""
        ids = _ids(results, "search")
        with self._lock:
            if ids and (ids != sorted(ids, reverse=True) or ids[0] >= self.high):
                raise SplitAbandonedError("search page not in descending id order")
            kept = [r for r, i in zip(results, ids, strict=True) if i > self.low]
            if ids:
                self.top = max(self.top, ids[0])
                self.high = ids[-1]
            self.searched += len(kept)
            return kept, self.met()


def record_id(raw: Any) -> int | None:
    """A contact's id as a number (HubSpot's are digits), or None."""
    value = raw.get("id") if isinstance(raw, dict) else None
    text = str(value) if value is not None else ""
    return int(text) if text.isdigit() else None


def _ids(results: Sequence[Raw], side: str) -> list[int]:
    ids = [record_id(r) for r in results]
    if None in ids:
        raise SplitAbandonedError(f"{side} page with a contact id that is not a number")
    return [i for i in ids if i is not None]


@dataclass
class SplitRead:
    """The pages of one full read from both ends.

    Args:
        list_pages: The list walk's raw pages, from the start (called again on a fallback).
        search: Sends one search body, returns the answer.
        properties: Contact properties to read.
        limit: Search page size (<= 200).
    """

    list_pages: Callable[[], Iterator[list[Raw]]]
    search: Callable[[dict[str, Any]], Any]
    properties: Sequence[str]
    limit: int
    #: Whether any contact handed on came from search (the cursor then keeps an overlap).
    searched: bool = False

    def pages(self) -> Iterator[list[Raw]]:
        """Every contact once (or, after a fallback, at least once), a page at a time."""
        frontier = Frontier()
        sides = {"list": self._list_side(frontier), "search": self._search_side(frontier)}
        try:
            for _, kept in drain(sides, DEPTH, thread_prefix="hubspot-split"):
                yield kept
            log.info(Event.HUBSPOT_SPLIT_READ, searched=frontier.searched, met=frontier.met())
        except SplitAbandonedError as e:
            log.warning(Event.HUBSPOT_SPLIT_ABANDONED, reason=str(e), searched=frontier.searched)
            yield from self.list_pages()
        finally:
            self.searched = self.searched or frontier.searched > 0

    def _list_side(self, frontier: Frontier) -> Iterator[list[Raw]]:
        for results in self.list_pages():
            kept, done = frontier.from_list(results)
            if kept:
                yield kept
            if done:
                return

    def _search_side(self, frontier: Frontier) -> Iterator[list[Raw]]:
        def fetch(query: IdQuery) -> Any:
            return self.search(self.body(query))

        try:
            for page in paginate(SEARCH_CONTACTS, fetch, IdPaging()):
                kept, done = frontier.from_search(list(page.data.get("results") or []))
                if kept:
                    yield kept
                if done:
                    return
        except (TransientError, InternalError) as e:  # the list may still read everything
            raise SplitAbandonedError(f"search failed ({e.reason or type(e).__name__})") from e

    def body(self, query: IdQuery) -> dict[str, Any]:
        """The search request for one page."""
        filters = []
        if query.below is not None:
            filters.append(
                {"propertyName": "hs_object_id", "operator": "LT", "value": str(query.below)}
            )
        return {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
            "properties": list(self.properties),
            "limit": self.limit,
            "after": "0",
        }
