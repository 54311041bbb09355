"""Rate and concurrency limits as the vendors enforce them, with an injectable clock.

HubSpot counts requests in a 10-second rolling window per app plus a daily total, and search in
its own per-second window; Mailchimp caps simultaneous connections per API key. Tests raise the
limits so they run fast, or shrink the window and drive `clock` by hand instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Every limit the sandbox enforces; `None` switches a limit off.

    Attributes:
        hubspot_per_10s: Requests per rolling window (HubSpot Professional: 190).
        hubspot_window_s: Length of that window in seconds (10 at HubSpot).
        hubspot_daily: Requests per day, reported in the daily headers.
        hubspot_search_per_s: Search requests per search window (5 at HubSpot).
        hubspot_search_window_s: Length of the search window in seconds.
        mailchimp_concurrency: Simultaneous Mailchimp requests per key (10 at Mailchimp).
        search_max_groups: Filter groups per search request ("Up to 6 groups of filters",
            `PublicObjectSearchRequest.filterGroups` in HubSpot's CRM search spec).
        search_max_filters_per_group: Filters in one group.
        search_max_filters: Filters in all groups together.
        hubspot_assoc_page: Associations returned per input of one v4 batch read before
            `paging.next.after` (the spec leaves the size open; tests shrink it).
        clock: Monotonic seconds; tests pass a fake to move windows without sleeping.
    """

    hubspot_per_10s: int | None = 190
    hubspot_window_s: float = 10.0
    hubspot_daily: int = 650_000
    hubspot_search_per_s: int | None = 5
    hubspot_search_window_s: float = 1.0
    mailchimp_concurrency: int | None = 10
    search_max_groups: int = 6
    search_max_filters_per_group: int = 10
    search_max_filters: int = 25
    hubspot_assoc_page: int = 500
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def relaxed(cls, **overrides: object) -> Limits:
        """Limits high enough that tests and rate measurements never hit them."""
        values: dict[str, object] = {
            "hubspot_per_10s": 1_000_000,
            "hubspot_daily": 100_000_000,
            "hubspot_search_per_s": 1_000_000,
            "mailchimp_concurrency": 1_000,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


class WindowQuota:
    """Counts events in the last `window_s` seconds and refuses the one past `limit`.

    Args:
        limit: Events allowed per window; `None` means unlimited (still counted).
        window_s: Window length in seconds.
        clock: Monotonic time source.
    """

    def __init__(self, limit: int | None, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[bool, int]:
        """Record one event if the window has room.

        Returns:
            (allowed, remaining after this event); remaining is 0 when refused.
        """
        with self._lock:
            now = self._clock()
            horizon = now - self.window_s
            times = self._times
            while times and times[0] <= horizon:
                times.popleft()
            if self.limit is None:
                return True, 1_000_000_000
            if len(times) >= self.limit:
                return False, 0
            times.append(now)
            return True, self.limit - len(times)

    @property
    def count(self) -> int:
        """Events recorded in the window as last pruned (what the rate headers report)."""
        return len(self._times)

    def reset(self) -> None:
        """Forget every event (sandbox reset)."""
        with self._lock:
            self._times.clear()


class DailyCounter:
    """HubSpot's daily budget; the sandbox's day starts when it does (or at reset)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[bool, int]:
        """Count one request; returns (allowed, remaining)."""
        with self._lock:
            if self.used >= self.limit:
                return False, 0
            self.used += 1
            return True, self.limit - self.used


class ConcurrencyGate:
    """Counts requests in flight and refuses the one beyond `limit`.

    `wait_for_inflight` lets a test wait (on a condition, not a sleep) until some number of
    requests are being held, to prove the next one is refused.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.inflight = 0
        self._cond = threading.Condition()

    def enter(self) -> bool:
        """Take a slot; False when every slot is taken."""
        with self._cond:
            if self.limit is not None and self.inflight >= self.limit:
                return False
            self.inflight += 1
            self._cond.notify_all()
            return True

    def leave(self) -> None:
        """Give a slot back."""
        with self._cond:
            self.inflight -= 1
            self._cond.notify_all()

    def wait_for_inflight(self, n: int, timeout: float) -> bool:
        """Block until at least `n` requests are in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.inflight >= n, timeout)


class LimitState:
    """The live counters built from one `Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.hubspot = WindowQuota(limits.hubspot_per_10s, limits.hubspot_window_s, limits.clock)
        self.search = WindowQuota(
            limits.hubspot_search_per_s, limits.hubspot_search_window_s, limits.clock
        )
        self.daily = DailyCounter(limits.hubspot_daily)
        self.mailchimp = ConcurrencyGate(limits.mailchimp_concurrency)
