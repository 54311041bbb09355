"""Paging of the incremental pull's search: `after` offsets and re-anchoring before the cap.

Search answers at most 10,000 results per query (api-facts 1.2). The pull sorts by
`lastmodifieddate` ascending, so before the next page would cross the cap, a new query starts
at the newest modification time seen so far; the contacts already read at exactly that time are
skipped in the new query's answers. A position is therefore the query's lower bound (`anchor`)
plus the offset inside that query; `paginate` guards it like any other position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.hubspot.client import NEXT_PAGE
from connectors.hubspot.enrich import Item
from connectors.hubspot.limits import SEARCH_CAP
from syncd.errors import InternalError
from syncd.events import Event
from syncd.http.paging import dig
from syncd.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search request of the window.

    Attributes:
        anchor: Lower bound of `lastmodifieddate` (epoch ms) of the query.
        after: Offset inside the query.
        skip: Ids already read whose time equals `anchor` (not part of the position).
    """

    anchor: int
    after: int = 0
    skip: frozenset[str] = field(default=frozenset(), compare=False)


class SearchWindow:
    """The search strategy for `paginate`; it also tracks the newest modification time read.

    Args:
        anchor: Lower bound of the first query (epoch ms).
        limit: Page size (<= 200).
    """

    def __init__(self, anchor: int, limit: int) -> None:
        self.limit = limit
        self.top_ms = anchor  # newest modification time among the contacts read
        self._anchor = anchor
        self._at_top: set[str] = set()  # ids read at `top_ms`

    def first(self) -> SearchQuery:
        """The first query, from the pull's lower bound."""
        return SearchQuery(self._anchor)

    @staticmethod
    def unseen(query: SearchQuery, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The page's contacts, less those an earlier query already read at its anchor."""
        out = []
        for raw in data.get("results") or []:
            if str(raw.get("id")) in query.skip and Item.of(raw).modified_ms == query.anchor:
                continue
            out.append(raw)
        return out

    def next(self, query: SearchQuery, data: Mapping[str, Any]) -> SearchQuery | None:
        """The next page of this query, or a new query from the newest time read.

        Raises:
            InternalError: More contacts share one modification time than a query can return.
        """
        for raw in self.unseen(query, data):
            rid, modified = str(raw.get("id")), Item.of(raw).modified_ms
            if modified > self.top_ms:
                self.top_ms, self._at_top = modified, {rid}
            elif modified == self.top_ms:
                self._at_top.add(rid)
        following = dig(data, NEXT_PAGE)
        if following is None:
            return None
        after = int(following)
        if after + self.limit <= SEARCH_CAP:
            return SearchQuery(query.anchor, after, query.skip)
        if self.top_ms == query.anchor:
            raise InternalError(
                f"more than {SEARCH_CAP} contacts share lastmodifieddate {query.anchor}; "
                "run a full pull (syncd sync --full)"
            )
        log.info(Event.HUBSPOT_SEARCH_REANCHOR, anchor_ms=self.top_ms)
        return SearchQuery(self.top_ms, 0, frozenset(self._at_top))
