"""Mailchimp as the core server drives it.

The API-key check (Basic, Bearer or OAuth header), the cap on simultaneous connections per key with
Mailchimp's 429, problem+json errors, and dispatch of a route to its handler on the account's
current state.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from syncd.sandbox.core.errors import ApiError, BadBodyError
from syncd.sandbox.core.limits import LimitState
from syncd.sandbox.core.routing import Request, Response, Route, Router
from syncd.sandbox.mailchimp.errors import mailchimp_error
from syncd.sandbox.mailchimp.routes import API_ROOT, build_router
from syncd.sandbox.mailchimp.state import MailchimpState


class MailchimpApi:
    """The emulated Mailchimp account (satisfies `core.interfaces.Vendor`).

    Args:
        state: The account's data; the facade swaps it on reset (under the state lock).
        key: Returns the API key calls must carry, read per call so a test can rotate it.
        limits: Returns the live limit counters, read per call so limits can be replaced.
    """

    name = "mailchimp"

    def __init__(
        self,
        state: MailchimpState,
        key: Callable[[], str],
        limits: Callable[[], LimitState],
    ) -> None:
        self.state = state
        self._key = key
        self._limits = limits
        self.router: Router[MailchimpState] = build_router()

    @staticmethod
    def owns(path: str) -> bool:
        """True for paths under the `/3.0` root."""
        return path == API_ROOT or path.startswith(API_ROOT + "/")

    def authenticate(self, req: Request) -> None:
        """401 "API Key Missing" without credentials, "API Key Invalid" with the wrong key."""
        auth = req.headers.get("authorization", "")
        key = ""
        if auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[6:]).decode().partition(":")[2]
            except ValueError:
                key = ""
        elif auth.startswith(("Bearer ", "OAuth ")):
            key = auth.partition(" ")[2]
        if not auth:
            raise mailchimp_error(
                401, "API Key Missing", "Your request did not include an API key."
            )
        if key != self._key():
            raise mailchimp_error(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )

    def admit(self, req: Request, route: Route[MailchimpState]) -> Callable[[], None] | None:
        """Take a connection slot, or refuse with 429 when every slot is taken."""
        gate = self._limits().mailchimp
        if not gate.enter():
            raise mailchimp_error(
                429,
                "Too Many Requests",
                f"You have exceeded the limit of {gate.limit} simultaneous connections.",
            )
        return gate.leave

    def serve(self, route: Route[MailchimpState], req: Request) -> Response:
        """Run the handler on the current account state."""
        return route.handler(self.state, req)

    def finish(self, route: Route[MailchimpState], resp: Response) -> None:
        """Mailchimp adds no headers of its own."""

    def error(self, status: int, message: str, title: str) -> ApiError:
        """A problem body with this title and the message as its detail."""
        return mailchimp_error(status, title, message)

    def bad_body(self, problem: BadBodyError) -> ApiError:
        """Mailchimp's 400s for a body that is not JSON, or not a JSON object."""
        if problem.malformed:
            return mailchimp_error(
                400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
            )
        return mailchimp_error(
            400, "Invalid Resource", "The resource submitted could not be validated."
        )

    def injected_429(self) -> ApiError:
        """An injected 429 names Mailchimp's documented cap of 10, whatever the sandbox's is."""
        return mailchimp_error(
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )
