"""Change-log search as the console offers it: filters of `syncd audit` plus a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from syncd.store import history
from syncd.ui.queries import Context


@dataclass(frozen=True)
class EventSearch:
    """One search of the change-log page or `/api/events`; empty fields do not filter.

    `start` and `end` are whole UTC days, both inclusive.
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

    def query_items(self) -> list[tuple[str, str]]:
        """The filters as URL query pairs (for the CSV link and pagination)."""
        pairs: list[tuple[str, str]] = []
        for name in ("contact", "segment", "target", "run_id", "outcome", "action", "start",
                     "end"):  # fmt: skip
            value = getattr(self, name)
            if value not in (None, ""):
                pairs.append((name, str(value)))
        return pairs


def _day(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def search_events(ctx: Context, search: EventSearch) -> list[dict[str, Any]]:
    """Matching events, newest first, with hints; the database applies every filter."""
    now = ctx.clock()
    since: timedelta | None = now - _day(search.start) if search.start is not None else None
    until = _day(search.end) + timedelta(days=1) if search.end is not None else None
    return history.list_events(
        ctx.db,
        ctx.workspace,
        history.AuditFilter(
            contact=search.contact or None,
            segment=search.segment or None,
            run_id=search.run_id,
            since=since,
            until=until,
            target=search.target or None,
            outcome=search.outcome or None,
            action=search.action or None,
            limit=search.limit,
        ),
        now,
    )
