"""Each vendor's error bodies, raised by handlers as one exception type.

Handlers raise `ApiError` wherever the real API would refuse a request; the server turns it
into the vendor's exact wire shape (HubSpot JSON, Mailchimp problem+json), so a client never
sees a Python traceback and error parsing can be tested against the real formats.
"""

from __future__ import annotations

import uuid
from typing import Any

MAILCHIMP_ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
JSON = "application/json;charset=utf-8"


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


def correlation_id() -> str:
    """A fresh id, as both vendors put on every error."""
    return str(uuid.uuid4())


def hubspot_error(
    status: int,
    message: str,
    category: str = "VALIDATION_ERROR",
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ApiError:
    """HubSpot's error body: `{"status":"error","message","correlationId","category",...}`."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    body.update(extra)
    return ApiError(status, body, JSON, headers)


def mailchimp_error(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """Mailchimp's RFC 7807 body, served as `application/problem+json`."""
    body: dict[str, Any] = {
        "type": MAILCHIMP_ERROR_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": correlation_id(),
    }
    if errors:
        body["errors"] = errors
    return ApiError(status, body, PROBLEM_JSON, headers)


def hubspot_not_found(message: str = "Resource not found") -> ApiError:
    """404 for an unknown object or path."""
    return hubspot_error(404, message, "OBJECT_NOT_FOUND")


def mailchimp_not_found() -> ApiError:
    """Mailchimp's 404 for an unknown resource or path."""
    return mailchimp_error(404, "Resource Not Found", "The requested resource could not be found.")


def mailchimp_invalid(detail: str, errors: list[dict[str, str]] | None = None) -> ApiError:
    """Mailchimp's 400 "Invalid Resource" for a request that fails validation."""
    return mailchimp_error(400, "Invalid Resource", detail, errors=errors)
