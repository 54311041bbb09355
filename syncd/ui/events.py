"""Change-log search as the console offers it: filters of `syncd audit` plus a date range.

The console's contact filter is a partial match (any part of the email); the other filters are
exact. The page and `/api/events` show one page (`limit`, `offset`) and the total; the CSV
export streams every matching row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from syncd.store import history
from syncd.ui.queries import Context

#: The filters a search carries in its URL, in this order.
FILTER_NAMES = ("contact", "segment", "target", "run_id", "outcome", "action", "start", "end")


@dataclass(frozen=True)
class EventSearch:
    """One search of the change-log page or `/api/events`; empty fields do not filter.

    `contact` matches any part of the email, case-insensitively. `start` and `end` are whole
    UTC days, both inclusive. `limit` and `offset` choose the page.
    """

    contact: str | None = None
    segment: str | None = None
    target: str | None = None
    run_id: int | None = None
    outcome: str | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None
    limit: int = 200
    offset: int = 0

    def query_items(self) -> list[tuple[str, str]]:
        """The filters as URL query pairs (for the CSV link and paging; no limit or offset)."""
        pairs: list[tuple[str, str]] = []
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if value not in (None, ""):
                pairs.append((name, str(value)))
        return pairs

    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(self.query_items())


def _day(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def audit_filter(ctx: Context, search: EventSearch) -> tuple[history.AuditFilter, datetime]:
    """The store's filter for this search, and the clock reading it is relative to."""
    now = ctx.clock()
    since: timedelta | None = now - _day(search.start) if search.start is not None else None
    until = _day(search.end) + timedelta(days=1) if search.end is not None else None
    filters = history.AuditFilter(
        contact_like=search.contact or None,
        segment=search.segment or None,
        run_id=search.run_id,
        since=since,
        until=until,
        target=search.target or None,
        outcome=search.outcome or None,
        action=search.action or None,
        limit=search.limit,
        offset=search.offset,
    )
    return filters, now


def search_events(ctx: Context, search: EventSearch) -> list[dict[str, Any]]:
    """One page of matching events, newest first, with hints; the database applies every filter."""
    filters, now = audit_filter(ctx, search)
    return history.list_events(ctx.db, ctx.workspace, filters, now)


def count_events(ctx: Context, search: EventSearch) -> int:
    """How many events match the search in all."""
    filters, now = audit_filter(ctx, search)
    return history.count_events(ctx.db, ctx.workspace, filters, now)


def export_csv(ctx: Context, search: EventSearch) -> Iterator[str]:
    """Every matching event as CSV, streamed in pieces (page and size of `search` ignored)."""
    filters, now = audit_filter(ctx, search)
    every = replace(filters, limit=None, offset=0)
    return history.iter_events_csv(history.iter_events(ctx.db, ctx.workspace, every, now))
