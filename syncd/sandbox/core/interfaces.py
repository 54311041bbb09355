"""The narrow interfaces between the core and the rest of the emulator.

The server and the control endpoints never import the `Sandbox` facade or a vendor package:
they are handed objects that satisfy these protocols. `Vendor` is one emulated API (HubSpot or
Mailchimp) as the request pipeline drives it; `Controls` is what `/_sandbox/...` needs;
`Host` is what the server needs for every request. The facade satisfies `Host`, each vendor
package's API object satisfies `Vendor`, and mypy checks both where they are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from syncd.sandbox.core.errors import ApiError, BadBodyError
from syncd.sandbox.core.faults import FaultConfig, FaultInjector
from syncd.sandbox.core.routing import Request, Response, Route, Router
from syncd.sandbox.core.stats import Stats


class Vendor(Protocol):
    """One emulated API, in the order the server calls it for a request."""

    @property
    def name(self) -> str:
        """The key of this API in stats, faults and holds (`hubspot`, `mailchimp`)."""
        ...

    @property
    def router(self) -> Router[Any]:
        """The API's routes at the vendor's real paths."""
        ...

    def authenticate(self, req: Request) -> None:
        """Raise the vendor's 401 unless the request carries the current credential."""
        ...

    def admit(self, req: Request, route: Route[Any]) -> Callable[[], None] | None:
        """Apply the vendor's rate or concurrency limits; raise its 429 when one is hit.

        Returns:
            A callable that gives back what was taken (a concurrency slot) once the response
            is written, or None when nothing needs giving back.
        """
        ...

    def serve(self, route: Route[Any], req: Request) -> Response:
        """Run the route's handler on the vendor's current state (the caller holds the lock)."""
        ...

    def finish(self, route: Route[Any], resp: Response) -> None:
        """Add the headers the vendor puts on every routed response (rate-limit headers)."""
        ...

    def error(self, status: int, message: str, title: str) -> ApiError:
        """An error of `status` in the vendor's shape (`title` where the shape has one)."""
        ...

    def bad_body(self, problem: BadBodyError) -> ApiError:
        """The vendor's 400 for a body that is not JSON, or not a JSON object."""
        ...

    def injected_429(self) -> ApiError:
        """The vendor's rate-limit refusal, served by an injected "429" fault."""
        ...


class Controls(Protocol):
    """What the `/_sandbox/...` control endpoints read and change."""

    @property
    def faults(self) -> FaultInjector:
        """The live fault configuration and random streams."""
        ...

    def stats(self) -> dict[str, Any]:
        """Request counters as served by `GET /_sandbox/stats`."""
        ...

    def set_faults(self, config: FaultConfig) -> None:
        """Replace the fault configuration."""
        ...

    def reset(self, contacts: int | None = None, seed: int | None = None) -> None:
        """Fresh data, zero counters, empty windows, no faults."""
        ...

    def info(self) -> dict[str, Any]:
        """Base URLs, credentials and the audience id."""
        ...


class Host(Controls, Protocol):
    """What the server needs from the running sandbox to serve one request."""

    @property
    def stats_counter(self) -> Stats:
        """The live counters the server records each request into."""
        ...

    def vendor_for(self, path: str) -> Vendor:
        """The API a (non-control) path belongs to."""
        ...

    def state_lock(self) -> AbstractContextManager[None]:
        """The lock every handler runs under (one for both vendors' state)."""
        ...

    def wait_if_held(self, api: str) -> None:
        """Block while a test holds this API (see `Sandbox.hold`)."""
        ...

    def hold_for_timeout(self) -> None:
        """Wait out the client for an injected "timeout" fault (or until shutdown)."""
        ...

    def observe(self, api: str, endpoint: str, status: int, body: Any) -> None:
        """See one routed answer before it is sent (for `Sandbox.recording`)."""
        ...
