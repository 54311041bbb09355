"""Proactive rate budgets: wait before a call rather than be refused with a 429.

Each vendor limit is written down here with its source (api-facts 1.4, 2.4, 2.5):
- HubSpot: a rolling window per app (190 per 10 s on Professional), advertised on every answer
  except search by `X-HubSpot-RateLimit-Max` / `-Remaining` / `-Interval-Milliseconds`;
  `HeaderBudget` starts from a configured guess and follows the headers.
- HubSpot search: 4 per second (the older, stricter figure), no headers; `RollingWindow`.
- Mailchimp: 10 simultaneous connections per key; `ConcurrencyLimit(9)` keeps one spare.

A slot is counted from the moment a request is sent until one window after its answer came back,
which is never earlier than the server's own count, so pacing right up to the limit is safe.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

HUBSPOT_PER_10S = 190
HUBSPOT_WINDOW_S = 10.0
HUBSPOT_SEARCH_PER_S = 4
MAILCHIMP_CONCURRENCY = 9


class Slot(Protocol):
    """One permitted call; `observe` feeds the answer's headers back to the budget."""

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Learn from the answer's headers (no-op for budgets that do not use them)."""


class Limiter(Protocol):
    """Hands out slots; `slot()` blocks until the call may be sent."""

    def slot(self) -> contextlib.AbstractContextManager[Slot]:
        """A context for one call."""
        ...


class _NoSlot:
    def observe(self, headers: Mapping[str, str] | None) -> None:
        return None


class Unlimited:
    """No limit (tests, or APIs without one)."""

    @contextlib.contextmanager
    def slot(self) -> Iterator[Slot]:
        """A slot at once."""
        yield _NoSlot()


class ConcurrencyLimit:
    """At most `limit` calls in flight (Mailchimp's connection cap)."""

    def __init__(self, limit: int = MAILCHIMP_CONCURRENCY) -> None:
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def slot(self) -> Iterator[Slot]:
        """Block until fewer than `limit` calls are in flight."""
        with self._sem:
            yield _NoSlot()


class RollingWindow:
    """At most `limit` calls in any `window_s` seconds, counting calls still in flight.

    Args:
        limit: Calls per window.
        window_s: Window length.
        clock: Monotonic seconds (injectable for unit tests of `delay`).
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, limit)
        self.window_s = window_s
        self._clock = clock
        self.grace_s = 1.0
        self._done: deque[float] = deque()  # answer times of calls within the window (+grace)
        self._inflight = 0
        self._cond = threading.Condition()

    def _prune(self, now: float) -> None:
        # Answers are kept `grace_s` past the window, so header reconciliation can tell
        # "the server still counts a call we just let go" from "someone else used the budget".
        horizon = now - self.window_s - self.grace_s
        while self._done and self._done[0] <= horizon:
            self._done.popleft()

    def _in_window(self, now: float) -> int:
        horizon = now - self.window_s
        stale = 0
        for t in self._done:
            if t > horizon:
                break
            stale += 1
        return len(self._done) - stale

    def delay(self) -> float:
        """Seconds until a new call may be sent (0 when it may go now)."""
        with self._cond:
            return self._delay(self._clock())

    def _delay(self, now: float) -> float:
        self._prune(now)
        in_window = self._in_window(now)
        if in_window + self._inflight < self.limit:
            return 0.0
        if not in_window:  # every slot is in flight: wait for an answer
            return self.window_s
        oldest = self._done[len(self._done) - in_window]
        return max(0.0, oldest + self.window_s - now)

    def used(self) -> int:
        """Calls counted in the current window, in flight included."""
        with self._cond:
            now = self._clock()
            self._prune(now)
            return self._in_window(now) + self._inflight

    @contextlib.contextmanager
    def slot(self) -> Iterator[Slot]:
        """Wait for room, count the call in flight, and stamp its answer time."""
        with self._cond:
            while (wait := self._delay(self._clock())) > 0:
                self._cond.wait(wait)
            self._inflight += 1
        slot = _WindowSlot(self)
        try:
            yield slot
        finally:
            with self._cond:
                self._inflight -= 1
                self._done.append(self._clock())
                self._cond.notify_all()

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Plain windows learn nothing from headers."""
        return


class _WindowSlot:
    def __init__(self, window: RollingWindow) -> None:
        self._window = window

    def observe(self, headers: Mapping[str, str] | None) -> None:
        self._window.observe(headers)


class HeaderBudget(RollingWindow):
    """HubSpot's rolling window, following its `X-HubSpot-RateLimit-*` headers.

    `Max` and `Interval-Milliseconds` replace the configured guess; when `Remaining` shows more
    calls used than syncd itself made (another app of the account, or a 429), the difference
    is booked as used now, so the next calls wait instead of being refused.

    Args:
        limit: Starting guess of calls per window, before any header is seen.
        window_s: Starting guess of the window length.
        reserve: Calls per window left unused, for other clients of the same app.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        limit: int = HUBSPOT_PER_10S,
        window_s: float = HUBSPOT_WINDOW_S,
        *,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limit - reserve, window_s, clock)
        self.reserve = reserve

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Adopt the advertised limit and book calls made by others."""
        if not headers:
            return
        h = {k.lower(): v for k, v in headers.items()}
        maximum = _int(h.get("x-hubspot-ratelimit-max"))
        remaining = _int(h.get("x-hubspot-ratelimit-remaining"))
        interval = _int(h.get("x-hubspot-ratelimit-interval-milliseconds"))
        if maximum is None:
            return
        with self._cond:
            self.limit = max(1, maximum - self.reserve)
            if interval:
                self.window_s = interval / 1000
            if remaining is None:
                return
            now = self._clock()
            self._prune(now)
            server_used = maximum - remaining
            ours = len(self._done) + self._inflight  # grace included: see `_prune`
            for _ in range(max(0, server_used - ours)):
                self._done.append(now)
            self._cond.notify_all()


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
