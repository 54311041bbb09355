"""Request counters per API and endpoint, as served by `GET /_sandbox/stats`.

Benchmarks read `writes` to prove a no-op sync wrote nothing: a write is a POST, PUT, PATCH or
DELETE that changes state; search and batch-read POSTs count as reads.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

APIS = ("hubspot", "mailchimp")


class Stats:
    """Thread-safe counters; `snapshot()` returns plain JSON-able dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._totals = {api: Counter[str]() for api in APIS}
            self._endpoints = {api: Counter[str]() for api in APIS}
            self._statuses = {api: Counter[str]() for api in APIS}
            self._faults = {api: Counter[str]() for api in APIS}
            self._person_edits = 0

    def record(
        self, api: str, endpoint: str, is_write: bool, status: int, fault: str | None = None
    ) -> None:
        """Count one request of a client of `api`."""
        with self._lock:
            t = self._totals[api]
            t["requests"] += 1
            t["writes" if is_write else "reads"] += 1
            if status == 429:
                t["http_429"] += 1
            if fault is not None:
                t["faults"] += 1
                self._faults[api][fault] += 1
            self._endpoints[api][endpoint] += 1
            self._statuses[api][str(status)] += 1

    def record_person_edit(self) -> None:
        """Count a test's "person" edit, kept apart from the client's calls."""
        with self._lock:
            self._person_edits += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters as served over HTTP."""
        with self._lock:
            out: dict[str, Any] = {}
            for api in APIS:
                t = self._totals[api]
                out[api] = {
                    "requests": t["requests"],
                    "reads": t["reads"],
                    "writes": t["writes"],
                    "http_429": t["http_429"],
                    "faults": t["faults"],
                    "fault_kinds": dict(self._faults[api]),
                    "status": dict(self._statuses[api]),
                    "endpoints": dict(self._endpoints[api]),
                }
            out["requests"] = sum(out[a]["requests"] for a in APIS)
            out["http_429"] = sum(out[a]["http_429"] for a in APIS)
            out["faults"] = sum(out[a]["faults"] for a in APIS)
            out["person_edits"] = self._person_edits
            return out
