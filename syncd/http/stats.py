"""Call counters per API and endpoint: what runs, metrics and benchmarks report.

Every attempt counts (a retried call counts each time it is sent), so `api_calls` is what the
vendor bills against its limits.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Counters of one endpoint (or of a whole API)."""

    api_calls: int = 0
    http_429: int = 0
    writes: int = 0
    failures: int = 0


class ApiStats:
    """Thread-safe counters; one instance may be shared by several connectors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._429: Counter[tuple[str, str]] = Counter()
        self._writes: Counter[tuple[str, str]] = Counter()
        self._failures: Counter[tuple[str, str]] = Counter()

    def record_call(self, api: str, endpoint: str, *, write: bool) -> None:
        """Count one attempt sent to `api`."""
        with self._lock:
            self._calls[api, endpoint] += 1
            if write:
                self._writes[api, endpoint] += 1

    def record_failure(self, api: str, endpoint: str, status: int | None) -> None:
        """Count one failed attempt (and a 429 when `status` is 429)."""
        with self._lock:
            self._failures[api, endpoint] += 1
            if status == 429:
                self._429[api, endpoint] += 1

    def api(self, api: str) -> EndpointStats:
        """Totals of one API."""
        with self._lock:
            return EndpointStats(
                sum(v for (a, _), v in self._calls.items() if a == api),
                sum(v for (a, _), v in self._429.items() if a == api),
                sum(v for (a, _), v in self._writes.items() if a == api),
                sum(v for (a, _), v in self._failures.items() if a == api),
            )

    def endpoints(self, api: str) -> dict[str, EndpointStats]:
        """Per-endpoint counters of one API."""
        with self._lock:
            keys = sorted(e for a, e in self._calls if a == api)
            return {
                e: EndpointStats(
                    self._calls[api, e],
                    self._429[api, e],
                    self._writes[api, e],
                    self._failures[api, e],
                )
                for e in keys
            }

    def totals(self) -> dict[str, tuple[int, int]]:
        """`api -> (api_calls, http_429)`, the shape the engine reads before and after a run."""
        with self._lock:
            apis = sorted({a for a, _ in self._calls})
        return {a: (s.api_calls, s.http_429) for a in apis for s in [self.api(a)]}

    def snapshot(self) -> dict[str, dict[str, object]]:
        """JSON-ready counters: per API totals and per endpoint."""
        with self._lock:
            apis = sorted({a for a, _ in self._calls})
        out: dict[str, dict[str, object]] = {}
        for a in apis:
            total = self.api(a)
            out[a] = {
                "api_calls": total.api_calls,
                "http_429": total.http_429,
                "writes": total.writes,
                "failures": total.failures,
                "endpoints": {
                    e: {"api_calls": s.api_calls, "http_429": s.http_429, "writes": s.writes}
                    for e, s in self.endpoints(a).items()
                },
            }
        return out
