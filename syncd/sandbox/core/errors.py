"""The one exception type handlers raise, and what the server needs to write any error.

Handlers raise `ApiError` wherever the real API would refuse a request; each vendor package
builds it in its own wire shape (HubSpot JSON, Mailchimp problem+json), so a client never sees a
Python traceback and error parsing can be tested against the real formats. A body that is not
the JSON an endpoint needs raises `BadBodyError` instead, which the vendor turns into its own 400.
"""

from __future__ import annotations

import uuid
from typing import Any

JSON = "application/json;charset=utf-8"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    207: "Multi-Status",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """A refusal in the vendor's own shape.

    Args:
        status: HTTP status code.
        body: The full JSON body to send.
        content_type: The vendor's content type for errors.
        headers: Extra response headers (for example rate-limit headers on a 429).
    """

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        content_type: str = JSON,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body.get('message') or body.get('detail')}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class BadBodyError(Exception):
    """The request body is not JSON, or not the JSON object the endpoint needs.

    Raised by `Request.json()` and `Request.json_object()`, which do not know whose API they
    parse for; the server asks the request's vendor to answer it (`Vendor.bad_body`).

    Args:
        detail: The parser's complaint, or why the value does not fit.
        malformed: True when the body is not JSON at all, False when it is JSON of the wrong
            type.
    """

    def __init__(self, detail: str, *, malformed: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.malformed = malformed


def correlation_id() -> str:
    """A fresh id, as both vendors put on every error."""
    return str(uuid.uuid4())
