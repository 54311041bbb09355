"""Seeded fault injection: which failure, if any, the next request of an API gets.

Every request of an API draws one number from that API's own `random.Random(seed)`, so a
client that sends the same requests in the same order meets the same faults.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Fault kinds, in the order their probabilities are stacked.
FAULT_KINDS = ("429", "500", "502", "503", "timeout", "reset", "truncated", "non_json")
APIS = ("hubspot", "mailchimp")


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities per API and fault kind, plus the seed and the timeout hold.

    Attributes:
        hubspot: Fault kind → probability for HubSpot requests.
        mailchimp: Fault kind → probability for Mailchimp requests.
        seed: Seed of the per-API random streams.
        timeout_s: How long a "timeout" fault holds the response (past the client's timeout).
        latency_ms: Added to every vendor request before it is served, as a network round
            trip to the real vendors would (100-300 ms); the request holds its rate and
            connection slots meanwhile. 0: none.
        search_delay_ms: HubSpot's search indexing delay: a record created or modified less
            than this long ago is left out of search answers ("may take a few moments to
            appear", HubSpot's search guide); list and batch reads see it at once. 0: none.
    """

    hubspot: dict[str, float] = field(default_factory=dict)
    mailchimp: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    timeout_s: float = 30.0
    latency_ms: float = 0.0
    search_delay_ms: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        """Parse the `POST /_sandbox/faults` body; raises ValueError on bad input."""
        if not isinstance(data, dict):
            raise ValueError("faults body must be a JSON object")
        unknown = set(data) - {*APIS, "seed", "timeout_s", "latency_ms", "search_delay_ms"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        probs: dict[str, dict[str, float]] = {}
        for api in APIS:
            raw = data.get(api) or {}
            if not isinstance(raw, dict):
                raise ValueError(f"{api} must be an object of fault kind to probability")
            table: dict[str, float] = {}
            for kind, p in raw.items():
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
                if not isinstance(p, int | float) or not 0 <= p <= 1:
                    raise ValueError(f"{api}.{kind} must be a probability in [0, 1]")
                table[kind] = float(p)
            if sum(table.values()) > 1:
                raise ValueError(f"{api} probabilities add up to more than 1")
            probs[api] = table
        seed = data.get("seed", 0)
        timeout_s = data.get("timeout_s", 30.0)
        if not isinstance(seed, int) or not isinstance(timeout_s, int | float):
            raise ValueError("seed must be an integer and timeout_s a number")
        latency_ms = _milliseconds(data, "latency_ms", 60_000)
        search_delay_ms = _milliseconds(data, "search_delay_ms", 3_600_000)
        return cls(
            probs["hubspot"],
            probs["mailchimp"],
            seed,
            float(timeout_s),
            latency_ms,
            search_delay_ms,
        )

    def to_json(self) -> dict[str, Any]:
        """The configuration as served by `GET /_sandbox/faults`."""
        return {
            "hubspot": dict(self.hubspot),
            "mailchimp": dict(self.mailchimp),
            "seed": self.seed,
            "timeout_s": self.timeout_s,
            "latency_ms": self.latency_ms,
            "search_delay_ms": self.search_delay_ms,
        }


def _milliseconds(data: dict[str, Any], key: str, most: int) -> float:
    """The optional duration `key` of the faults body (0 when absent); ValueError if bad."""
    value = data.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number of milliseconds")
    if not 0 <= value <= most:
        raise ValueError(f"{key} must be between 0 and {most}")
    return float(value)


class FaultInjector:
    """Draws the fault (or None) for each request, reproducibly per API."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and restart both random streams from the seed."""
        with self._lock:
            self.config = config
            self._rngs = {api: random.Random(f"{config.seed}:{api}") for api in APIS}

    def delay(self) -> None:
        """Hold the calling request for the configured latency (no-op when it is 0)."""
        latency_ms = self.config.latency_ms
        if latency_ms > 0:
            time.sleep(latency_ms / 1000)

    def draw(self, api: str) -> str | None:
        """The fault kind for the next request of `api`, or None to serve it normally."""
        table: dict[str, float] = getattr(self.config, api)
        if not table:
            return None
        with self._lock:
            x = self._rngs[api].random()
        acc = 0.0
        for kind in FAULT_KINDS:
            acc += table.get(kind, 0.0)
            if x < acc:
                return kind
        return None
