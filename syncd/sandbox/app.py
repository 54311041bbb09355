"""`Sandbox`: the emulator as a Python object for tests, and `serve_forever` for the CLI."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any

from syncd.sandbox.data import generate
from syncd.sandbox.errors import ApiError, hubspot_error
from syncd.sandbox.faults import FaultConfig, FaultInjector
from syncd.sandbox.limits import Limits, LimitState
from syncd.sandbox.routes import hubspot_router, mailchimp_router
from syncd.sandbox.routing import Request, Response
from syncd.sandbox.server import SandboxServer
from syncd.sandbox.state import Clock, State, iso_ms
from syncd.sandbox.stats import Stats

DEFAULT_HUBSPOT_TOKEN = "sandbox-hubspot-token"  # noqa: S105 - public demo credential
DEFAULT_MAILCHIMP_KEY = "sandbox-mailchimp-key-us1"
HOLD_TIMEOUT_S = 30.0


class Sandbox:
    """A running HubSpot + Mailchimp emulator on one port.

    Use as a context manager (`with Sandbox(contacts=200, seed=1) as sb:`); it serves from a
    background thread until the block ends.

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
        self._lock = threading.RLock()
        self.state: State = generate(contacts, seed, Clock(now))
        self.limits = LimitState(limits or Limits())
        self.faults = FaultInjector(faults)
        self._stats = Stats()
        self._stopping = threading.Event()
        self._holds: dict[str, threading.Event] = {}
        self.hubspot_router = hubspot_router(lambda: self.limits.limits, self._usage)
        self.mailchimp_router = mailchimp_router()
        self._server = SandboxServer((host, port), self)
        self._thread: threading.Thread | None = None

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
        return self.state.audience_id

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
        """Fresh data (same or new size and seed), zero counters, empty windows, no faults."""
        with self._lock:
            self.contacts = self.contacts if contacts is None else contacts
            self.seed = self.seed if seed is None else seed
            state = generate(self.contacts, self.seed, Clock(self._now))
            with self.state.lock:
                self.state = state
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

    def wait_if_held(self, api: str) -> None:
        """Called by the server: block while a test holds this API."""
        ev = self._holds.get(api)
        if ev is not None:
            ev.wait(HOLD_TIMEOUT_S)

    def hold_for_timeout(self) -> None:
        """Called by the server for a timeout fault: wait out the client (or shutdown)."""
        self._stopping.wait(self.faults.config.timeout_s)

    @contextlib.contextmanager
    def state_lock(self) -> Iterator[None]:
        """The lock every handler runs under."""
        with self.state.lock:
            yield

    # --- HubSpot counters ---------------------------------------------------------------------

    def hubspot_rate_headers(self) -> dict[str, str]:
        """`X-HubSpot-RateLimit-*` headers as of now."""
        lim = self.limits
        window = lim.hubspot
        used = len(window._times)
        maximum = window.limit if window.limit is not None else 1_000_000_000
        return {
            "X-HubSpot-RateLimit-Daily": str(lim.daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, lim.daily.limit - lim.daily.used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(maximum),
            "X-HubSpot-RateLimit-Remaining": str(max(0, maximum - used)),
        }

    def hubspot_429(self, policy: str, message: str, headers: bool = True) -> ApiError:
        """HubSpot's 429 body with `policyName` (and rate headers except for search)."""
        err = hubspot_error(
            429,
            message,
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName=policy,
            requestId=str(uuid.uuid4()),
        )
        if headers:
            err.headers.update(self.hubspot_rate_headers())
        return err

    def _usage(self, state: State, req: Request) -> Response:
        daily = self.limits.daily
        now = state.clock.now_ms()
        return Response(
            200,
            {
                "results": [
                    {
                        "name": "api-calls-daily",
                        "usageLimit": daily.limit,
                        "currentUsage": daily.used,
                        "collectedAt": iso_ms(now),
                        "fetchStatus": "SUCCESS",
                        "resetsAt": iso_ms((now // 86_400_000 + 1) * 86_400_000),
                    }
                ]
            },
        )


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    contacts: int = 1000,
    seed: int = 1,
    hubspot_token: str = DEFAULT_HUBSPOT_TOKEN,
    mailchimp_key: str = DEFAULT_MAILCHIMP_KEY,
) -> None:
    """Run the sandbox in the foreground until SIGTERM or SIGINT (`syncd sandbox serve`).

    Prints both base URLs and the audience id, then serves with the vendors' default limits.
    """
    sb = Sandbox(
        contacts,
        seed,
        host=host,
        port=port,
        hubspot_token=hubspot_token,
        mailchimp_key=mailchimp_key,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    sb.start()
    try:
        print(f"HubSpot:   {sb.hubspot_url}  (Bearer {sb.hubspot_token})")
        print(f"Mailchimp: {sb.mailchimp_url}  (key {sb.mailchimp_key}, audience {sb.audience_id})")
        print(f"Control:   {sb.base_url}/_sandbox/stats  ({contacts} contacts, seed {seed})")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sb.stop()
        for s, h in previous.items():
            signal.signal(s, h)


__all__ = ["ApiError", "Sandbox", "serve_forever"]
