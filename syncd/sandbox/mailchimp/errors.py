"""Mailchimp's RFC 7807 error bodies, served as `application/problem+json`."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.errors import PROBLEM_JSON, ApiError, correlation_id

MAILCHIMP_ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"


def mailchimp_error(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """Mailchimp's problem body (`type`, `title`, `status`, `detail`, `instance`)."""
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


def mailchimp_not_found() -> ApiError:
    """Mailchimp's 404 for an unknown resource or path."""
    return mailchimp_error(404, "Resource Not Found", "The requested resource could not be found.")


def mailchimp_invalid(detail: str, errors: list[dict[str, str]] | None = None) -> ApiError:
    """Mailchimp's 400 "Invalid Resource" for a request that fails validation."""
    return mailchimp_error(400, "Invalid Resource", detail, errors=errors)
