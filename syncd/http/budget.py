"""Proactive rate budgets: wait before a call rather than be refused with a 429.

Three mechanisms, whose figures each connector supplies from its own `limits` module:
- `RollingWindow`: at most N calls in any window of T seconds.
- `HeaderBudget`: a rolling window that follows the limit an API advertises in its answers'
  headers (`RateHeaders` names them), starting from a configured guess.
- `ConcurrencyLimit`: at most N calls in flight.

A slot is counted from the moment a request is sent until one window after its answer came back,
which is never earlier than the server's own count, so pacing right up to the limit is safe.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """The answer headers in which an API advertises its rolling rate limit.

    Attributes:
        limit: Calls allowed per window.
        remaining: Calls left in the current window.
        interval_ms: The window's length in milliseconds.
    """

    limit: str
    remaining: str
    interval_ms: str

    def read(self, headers: Mapping[str, str] | None) -> tuple[int | None, int | None, int | None]:
        """`(limit, remaining, interval_ms)` from an answer's headers; None where absent."""
        if not headers:
            return None, None, None
        h = {k.lower(): v for k, v in headers.items()}
        return (
            _int(h.get(self.limit.lower())),
            _int(h.get(self.remaining.lower())),
            _int(h.get(self.interval_ms.lower())),
        )


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
    """At most `limit` calls in flight (an API that caps simultaneous connections)."""

    def __init__(self, limit: int) -> None:
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
    """A rolling window that follows the limit the API advertises in its headers.

    The advertised limit and interval replace the configured guess; when the remaining count
    shows more calls used than syncd itself made (another app of the account, or a 429), the
    difference is booked as used now, so the next calls wait instead of being refused.

    Args:
        limit: Starting guess of calls per window, before any header is seen.
        window_s: Starting guess of the window length.
        headers: Where the API advertises its limit.
        reserve: Calls per window left unused, for other clients of the same app.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        headers: RateHeaders,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limit - reserve, window_s, clock)
        self.headers = headers
        self.reserve = reserve

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Adopt the advertised limit and book calls made by others."""
        maximum, remaining, interval = self.headers.read(headers)
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
