"""The sandbox's clock, and the time formats both APIs write and read.

HubSpot writes `2025-03-04T10:11:12.345Z` and dates; Mailchimp writes seconds with `+00:00`;
both accept epoch milliseconds or ISO times in filters.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

_DAYS: dict[int, str] = {}
_SECS: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """Epoch milliseconds → HubSpot's `2025-03-04T10:11:12.345Z` (day strings cached: fast)."""
    day, rest = divmod(ms, 86_400_000)
    d = _DAYS.get(day)
    if d is None:
        d = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    s, r = divmod(rest, 1000)
    t = _SECS.get(s)
    if t is None:
        h, m = divmod(s, 3600)
        m, sec = divmod(m, 60)
        t = _SECS[s] = f"T{h:02d}:{m:02d}:{sec:02d}."
    return f"{d}{t}{r:03d}Z"


def iso_date(ms: int) -> str:
    """Epoch milliseconds → `2025-03-04` (HubSpot date properties)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def iso_s(ms: int) -> str:
    """Epoch milliseconds → Mailchimp's `2025-03-04T10:11:12+00:00`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms // 1000))


def parse_time_ms(value: str) -> int | None:
    """Epoch milliseconds from epoch-ms digits, an ISO date-time or an ISO date; None if neither."""
    v = value.strip()
    if not v:
        return None
    if v.lstrip("-").isdigit():
        return int(v)
    try:
        dt = datetime.fromisoformat(v.replace(" ", "+") if "T" in v else v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class Clock:
    """Wall-clock milliseconds starting at `now`, moving with real time, never going back.

    Writes in the same millisecond share a timestamp, as a HubSpot batch update does; a
    strictly increasing counter would run ahead of the wall clock during bulk writes and
    hide records from a "changed up to now" search.
    """

    def __init__(self, now: datetime | None = None) -> None:
        base = now if now is not None else datetime.now(UTC)
        if base.tzinfo is None:
            base = base.replace(tzinfo=UTC)
        self.base_ms = int(base.timestamp() * 1000)
        self._start = time.monotonic()
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The sandbox's current time."""
        return self.base_ms + int((time.monotonic() - self._start) * 1000)

    def write_ms(self) -> int:
        """A timestamp for a write: now, and never earlier than an earlier write."""
        with self._lock:
            t = max(self.now_ms(), self._last)
            self._last = t
            return t
