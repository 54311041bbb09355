"""`Sandbox`: the emulator as a Python object, composing the core server with both vendors.

The facade owns what spans both APIs: the one state lock, limits, faults, stats, test holds
and reset. It satisfies `core.interfaces.Host`, which is all the server sees of it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from syncd.sandbox.core.clock import Clock
from syncd.sandbox.core.faults import FaultConfig, FaultInjector
from syncd.sandbox.core.interfaces import Vendor
from syncd.sandbox.core.limits import Limits, LimitState
from syncd.sandbox.core.server import SandboxServer
from syncd.sandbox.core.stats import Stats
from syncd.sandbox.defaults import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY
from syncd.sandbox.hubspot.api import HubSpotApi
from syncd.sandbox.hubspot.state import HubSpotState
from syncd.sandbox.mailchimp.api import MailchimpApi
from syncd.sandbox.mailchimp.state import MailchimpState
from syncd.sandbox.world import generate

HOLD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Served:
    """One answer the sandbox gave to a (non-person) API call, as `recording` keeps it.

    Attributes:
        api: `hubspot` or `mailchimp`.
        endpoint: The route, as stats name it (`GET /crm/v3/objects/{objectType}`).
        status: The HTTP status.
        body: The JSON body as sent (a copy), or None for an empty one.
    """

    api: str
    endpoint: str
    status: int
    body: Any


class Sandbox:
    """A running HubSpot + Mailchimp emulator on one port.

    Use as a context manager (`with Sandbox(contacts=200, seed=1) as sb:`); it serves from a
    background thread until the block ends. Tests read and change the data through
    `sb.hubspot` and `sb.mailchimp` while holding `sb.state_lock()`.

    Args:
        contacts: Number of HubSpot contacts to generate.
        seed: Seed of the generated data.
        limits: Rate and concurrency limits (default: the vendors'; `Limits.relaxed()` for fast
            tests).
        host: Interface to bind (loopback by default).
        port: Port; 0 picks a free one.
        hubspot_token: Bearer token HubSpot calls must carry.
        mailchimp_key: API key Mailchimp calls must carry (Basic auth password).
        now: The time generated dates are relative to (default: the real now).
        faults: Initial fault configuration.
    """

    def __init__(
        self,
        contacts: int = 200,
        seed: int = 1,
        *,
        limits: Limits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        hubspot_token: str = DEFAULT_HUBSPOT_TOKEN,
        mailchimp_key: str = DEFAULT_MAILCHIMP_KEY,
        now: datetime | None = None,
        faults: FaultConfig | None = None,
    ) -> None:
        self.contacts = contacts
        self.seed = seed
        self.hubspot_token = hubspot_token
        self.mailchimp_key = mailchimp_key
        self._now = now
        self._reset_lock = threading.RLock()
        self._state_lock = threading.RLock()
        world = generate(contacts, seed, Clock(now))
        self.limits = LimitState(limits or Limits())
        self.faults = FaultInjector(faults)
        self._stats = Stats()
        self._stopping = threading.Event()
        self._holds: dict[str, threading.Event] = {}
        self._recordings: list[list[Served]] = []
        self._hubspot_api = HubSpotApi(
            world.hubspot,
            lambda: self.hubspot_token,
            lambda: self.limits,
            lambda: self.faults.config.search_delay_ms,
        )
        self._mailchimp_api = MailchimpApi(
            world.mailchimp, lambda: self.mailchimp_key, lambda: self.limits
        )
        self._server = SandboxServer((host, port), self)
        self._thread: threading.Thread | None = None

    # --- data ---------------------------------------------------------------------------------

    @property
    def hubspot(self) -> HubSpotState:
        """The HubSpot portal's current data (replaced on reset; hold `state_lock()`)."""
        return self._hubspot_api.state

    @property
    def mailchimp(self) -> MailchimpState:
        """The Mailchimp account's current data (replaced on reset; hold `state_lock()`)."""
        return self._mailchimp_api.state

    # --- addresses ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://host:port`."""
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}"

    @property
    def hubspot_url(self) -> str:
        """HubSpot base URL (`HubSpot(host=...)`, connector `base_url`)."""
        return self.base_url

    @property
    def mailchimp_url(self) -> str:
        """Mailchimp base URL, ending in `/3.0` (`client.api_client.host`)."""
        return f"{self.base_url}/3.0"

    @property
    def audience_id(self) -> str:
        """The one Mailchimp audience."""
        return self.mailchimp.audience_id

    def info(self) -> dict[str, Any]:
        """Where and how to reach the sandbox (also `GET /_sandbox/info`)."""
        return {
            "hubspot_url": self.hubspot_url,
            "mailchimp_url": self.mailchimp_url,
            "hubspot_token": self.hubspot_token,
            "mailchimp_key": self.mailchimp_key,
            "audience_id": self.audience_id,
            "contacts": self.contacts,
            "seed": self.seed,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="syncd-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (held responses are let go first)."""
        self._stopping.set()
        for ev in self._holds.values():
            ev.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- test controls ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Request counters; see `Stats.snapshot`."""
        return self._stats.snapshot()

    @property
    def stats_counter(self) -> Stats:
        """The live counters (the server records into them)."""
        return self._stats

    def set_faults(self, config: FaultConfig | dict[str, Any] | None) -> None:
        """Replace the fault configuration (a `FaultConfig` or the HTTP body's dict)."""
        if config is None:
            config = FaultConfig()
        elif isinstance(config, dict):
            config = FaultConfig.from_json(config)
        self.faults.configure(config)

    def set_limits(self, limits: Limits) -> None:
        """Replace the limits; windows start empty."""
        self.limits = LimitState(limits)

    def reset(self, contacts: int | None = None, seed: int | None = None) -> None:
        """Fresh data (same or new size and seed), zero counters, empty windows, no faults.

        The data is generated before the state lock is taken, so requests are served from the
        old data meanwhile; both vendors switch to the new data at once.
        """
        with self._reset_lock:
            self.contacts = self.contacts if contacts is None else contacts
            self.seed = self.seed if seed is None else seed
            world = generate(self.contacts, self.seed, Clock(self._now))
            with self._state_lock:
                self._hubspot_api.state = world.hubspot
                self._mailchimp_api.state = world.mailchimp
            self._stats.reset()
            self.limits = LimitState(self.limits.limits)
            self.faults.configure(FaultConfig())

    @contextlib.contextmanager
    def hold(self, api: str) -> Iterator[None]:
        """Hold every request of `api` (after limits are applied) until the block exits.

        With `limits.mailchimp.wait_for_inflight(n, timeout)` this proves the concurrency cap
        without timing: hold 10 requests, then the 11th is refused.
        """
        ev = threading.Event()
        self._holds[api] = ev
        try:
            yield
        finally:
            ev.set()
            self._holds.pop(api, None)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Served]]:
        """Keep every answer to an API call made inside the block (person edits excluded).

        Contract tests read the bodies to check that each has the fields and types the
        connectors read.
        """
        served: list[Served] = []
        self._recordings.append(served)
        try:
            yield served
        finally:
            self._recordings.remove(served)

    def observe(self, api: str, endpoint: str, status: int, body: Any) -> None:
        """Copy one answer into every active recording (nothing to do without one)."""
        if not self._recordings:
            return
        copy = json.loads(json.dumps(body)) if isinstance(body, dict | list) else None
        for served in list(self._recordings):
            served.append(Served(api, endpoint, status, copy))

    @contextlib.contextmanager
    def state_lock(self) -> Iterator[None]:
        """The lock every handler runs under, for both vendors' data."""
        with self._state_lock:
            yield

    # --- what the server calls (core.interfaces.Host) -----------------------------------------

    def vendor_for(self, path: str) -> Vendor:
        """Mailchimp for paths under `/3.0`; HubSpot answers every other path."""
        if self._mailchimp_api.owns(path):
            return self._mailchimp_api
        return self._hubspot_api

    def wait_if_held(self, api: str) -> None:
        """Block while a test holds this API."""
        ev = self._holds.get(api)
        if ev is not None:
            ev.wait(HOLD_TIMEOUT_S)

    def hold_for_timeout(self) -> None:
        """For a timeout fault: wait out the client (or shutdown)."""
        self._stopping.wait(self.faults.config.timeout_s)


__all__ = ["Sandbox", "Served"]
