"""One pager for every paged read, with one guard against an API that pages in a circle.

A paged read is a loop: fetch a page for the current position, work out the next position from
the answer, stop on the last page. `paginate` is that loop, written once; what differs between
endpoints is a small strategy (`Paging`) that names the first position and reads the next one
from a page. `CursorPaging` follows a token the page names; `OffsetPaging` counts items against
the total the page reports. Connectors bring their own strategy where an endpoint needs more
(HubSpot search re-anchors its window before the 10,000-result cap).

The guard: a position that was already fetched means the API is sending syncd in a circle. The
read stops with an `InternalError` naming the endpoint, never by returning early as if the list
had ended: a reader that stops silently makes every unread member look removed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from syncd.errors import InternalError

S = TypeVar("S", bound=Hashable)
_SHOWN = 40  # characters of a repeated position quoted in the error


@dataclass(frozen=True, slots=True)
class Fetched(Generic[S]):
    """One page of a paged read.

    Attributes:
        position: The position the page was fetched at.
        data: The page as the API answered it.
        last: Whether this is the read's last page.
    """

    position: S
    data: Mapping[str, Any]
    last: bool


class Paging(Protocol[S]):
    """How an endpoint pages: its first position, and the next one after each page."""

    def first(self) -> S:
        """The position of the first page."""
        ...

    def next(self, position: S, data: Mapping[str, Any]) -> S | None:
        """The position after the page `data` fetched at `position`; None after the last."""
        ...


def paginate(
    endpoint: str, fetch: Callable[[S], Mapping[str, Any]], paging: Paging[S]
) -> Iterator[Fetched[S]]:
    """Fetch every page of a read, lazily, one request per page.

    Args:
        endpoint: The endpoint label (`GET /crm/v3/lists/{listId}/memberships`), for the error.
        fetch: Sends the request for one position and returns the answer.
        paging: The endpoint's strategy.

    Yields:
        Each page, with its position and whether it is the last one.

    Raises:
        InternalError: The API pointed back at a position already fetched.
    """
    position = paging.first()
    seen: set[S] = {position}
    while True:
        data = fetch(position)
        following = paging.next(position, data)
        if following is not None and following in seen:
            shown = repr(following)[:_SHOWN]
            raise InternalError(
                f"{endpoint} pointed back at page position {shown} it had already sent; "
                "stopped reading rather than loop or skip the rest"
            )
        yield Fetched(position, data, following is None)
        if following is None:
            return
        seen.add(following)
        position = following


@dataclass(frozen=True, slots=True)
class PageToken:
    """A position in a cursor-paged read: the token the previous page named (None first)."""

    token: str | None = None


@dataclass(frozen=True, slots=True)
class CursorPaging:
    """Pages that name the next page's token; a page without one is the last.

    Attributes:
        path: Where the token sits in a page (`("paging", "next", "after")`).
    """

    path: Sequence[str]

    def first(self) -> PageToken:
        """No token: the first page."""
        return PageToken()

    def next(self, position: PageToken, data: Mapping[str, Any]) -> PageToken | None:
        """The token the page names, if it names one."""
        token = dig(data, self.path)
        if token is None or token == "":
            return None
        return PageToken(str(token))


@dataclass(frozen=True, slots=True)
class Offset:
    """A position in an offset-paged read.

    Attributes:
        offset: Items to skip.
        total: The total the previous page reported (None before the first page).
    """

    offset: int = 0
    total: int | None = None


@dataclass(frozen=True, slots=True)
class OffsetPaging:
    """Pages of a list that reports its total size; offsets count the items read.

    The read ends on an empty page, once the offset reaches the total, or (with `page_size`)
    on a page shorter than asked for.

    Attributes:
        items: The key of a page's items (`members`).
        total: The key of the list's total size.
        page_size: The page size asked for; a shorter page is the last one.
        follow_shrink: When the total drops between pages (items left a filtered window while
            it was read), step the offset back by as much.
    """

    items: str
    total: str = "total_items"
    page_size: int | None = None
    follow_shrink: bool = False

    def first(self) -> Offset:
        """Offset 0."""
        return Offset()

    def next(self, position: Offset, data: Mapping[str, Any]) -> Offset | None:
        """The offset after this page's items, or None when it was the last page."""
        items = data.get(self.items) or []
        total = int(data.get(self.total) or 0)
        offset = position.offset
        if self.follow_shrink and position.total is not None and total < position.total:
            offset -= position.total - total
        offset += len(items)
        short = self.page_size is not None and len(items) < self.page_size
        if not items or short or offset >= total:
            return None
        return Offset(offset, total)


def dig(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at `path` in nested JSON objects; None when any step is missing."""
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current
