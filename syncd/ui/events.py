"""Change-log search as the console offers it: filters of `syncd audit` plus a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from syncd import history
from syncd.ui.queries import Context

#: Rows read when an end date is set, before dropping the newer ones (see `search_events`).
END_DATE_WINDOW = 20_000


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
    """Matching events, newest first, with hints.

    The start date becomes `history.AuditFilter.since` (an age from now), so the database
    does the work. `history` has no upper bound yet, so with an end date up to
    `END_DATE_WINDOW` newest rows are read and the newer-than-end ones dropped here.
    """
    now = ctx.clock()
    since: timedelta | None = now - _day(search.start) if search.start is not None else None
    limit = search.limit if search.end is None else max(search.limit, END_DATE_WINDOW)
    rows = history.list_events(
        ctx.engine,
        ctx.workspace,
        history.AuditFilter(
            contact=search.contact or None,
            segment=search.segment or None,
            run_id=search.run_id,
            since=since,
            target=search.target or None,
            outcome=search.outcome or None,
            action=search.action or None,
            limit=limit,
        ),
        now,
    )
    if search.end is not None:
        stop = (_day(search.end) + timedelta(days=1)).isoformat()
        rows = [r for r in rows if r["at"] is not None and _before(r["at"], stop)]
    return rows[: search.limit]


def _before(at: str, stop: str) -> bool:
    return datetime.fromisoformat(at) < datetime.fromisoformat(stop)
