"""HubSpot as the core server drives it.

Bearer-token check, the 10-second rolling, daily and search limits with HubSpot's 429 bodies and
`X-HubSpot-RateLimit-*` headers, and dispatch of a route to its handler on the portal's current
state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from syncd.sandbox.core.errors import ApiError, BadBodyError
from syncd.sandbox.core.limits import LimitState
from syncd.sandbox.core.routing import Request, Response, Route, Router
from syncd.sandbox.hubspot.errors import AUTH_MESSAGE, hubspot_error, status_error
from syncd.sandbox.hubspot.routes import SEARCH_TEMPLATE, build_router
from syncd.sandbox.hubspot.state import HubSpotState

UNLIMITED = 1_000_000_000  # what the headers report when the rolling limit is switched off


class HubSpotApi:
    """The emulated HubSpot portal (satisfies `core.interfaces.Vendor`).

    Args:
        state: The portal's data; the facade swaps it on reset (under the state lock).
        token: Returns the bearer token calls must carry, read per call so a test can rotate it.
        limits: Returns the live limit counters, read per call so limits can be replaced.
        search_delay_ms: Returns the search indexing delay now configured (0: none).
    """

    name = "hubspot"

    def __init__(
        self,
        state: HubSpotState,
        token: Callable[[], str],
        limits: Callable[[], LimitState],
        search_delay_ms: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.state = state
        self._token = token
        self._limits = limits
        self.router: Router[HubSpotState] = build_router(limits, search_delay_ms)

    def authenticate(self, req: Request) -> None:
        """401 `INVALID_AUTHENTICATION` unless `Authorization: Bearer <token>`."""
        if req.headers.get("authorization", "") != f"Bearer {self._token()}":
            raise hubspot_error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def admit(self, req: Request, route: Route[HubSpotState]) -> Callable[[], None] | None:
        """Search counts in its own window; everything else in the rolling and daily ones."""
        limits = self._limits()
        if route.template == SEARCH_TEMPLATE:
            ok, _ = limits.search.try_acquire()
            if not ok:  # search answers 429 without any rate-limit headers
                raise self.rate_limit_error(
                    "SECONDLY", "You have reached your secondly limit.", headers=False
                )
            return None
        ok, _ = limits.hubspot.try_acquire()
        if not ok:
            raise self.rate_limit_error(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
        ok, _ = limits.daily.try_acquire()
        if not ok:
            raise self.rate_limit_error("DAILY", "You have reached your daily limit.")
        return None

    def serve(self, route: Route[HubSpotState], req: Request) -> Response:
        """Run the handler on the current portal state."""
        return route.handler(self.state, req)

    def finish(self, route: Route[HubSpotState], resp: Response) -> None:
        """Every routed response but search's carries the rate-limit headers."""
        if route.template != SEARCH_TEMPLATE:
            resp.headers.update(self.rate_headers())

    def error(self, status: int, message: str, title: str) -> ApiError:
        """HubSpot's body has no title; the category follows the status."""
        return status_error(status, message)

    def bad_body(self, problem: BadBodyError) -> ApiError:
        """HubSpot's 400 `VALIDATION_ERROR` for a body it cannot read."""
        if problem.malformed:
            return hubspot_error(400, f"Invalid input JSON: {problem.detail}", "VALIDATION_ERROR")
        return hubspot_error(400, "Invalid input JSON: expected an object")

    def injected_429(self) -> ApiError:
        """An injected 429 looks like the rolling limit's."""
        return self.rate_limit_error(
            "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
        )

    def rate_headers(self) -> dict[str, str]:
        """`X-HubSpot-RateLimit-*` headers as of now."""
        lim = self._limits()
        window = lim.hubspot
        maximum = window.limit if window.limit is not None else UNLIMITED
        return {
            "X-HubSpot-RateLimit-Daily": str(lim.daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, lim.daily.limit - lim.daily.used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(maximum),
            "X-HubSpot-RateLimit-Remaining": str(max(0, maximum - window.count)),
        }

    def rate_limit_error(self, policy: str, message: str, headers: bool = True) -> ApiError:
        """HubSpot's 429 body with `policyName` (and the rate headers unless `headers` is off)."""
        err = hubspot_error(
            429,
            message,
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName=policy,
            requestId=str(uuid.uuid4()),
        )
        if headers:
            err.headers.update(self.rate_headers())
        return err
