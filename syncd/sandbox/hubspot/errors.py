"""HubSpot's error bodies: `{"status":"error","message","correlationId","category",...}`."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.errors import JSON, ApiError, correlation_id

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def hubspot_error(
    status: int,
    message: str,
    category: str = "VALIDATION_ERROR",
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ApiError:
    """HubSpot's error body, with any extra fields (`subCategory`, `policyName`, ...)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    body.update(extra)
    return ApiError(status, body, JSON, headers)


def hubspot_not_found(message: str = "Resource not found") -> ApiError:
    """404 for an unknown object or path."""
    return hubspot_error(404, message, "OBJECT_NOT_FOUND")


def status_error(status: int, message: str) -> ApiError:
    """An error the server raises on HubSpot's behalf (unknown path, injected 5xx, crash)."""
    category = {404: "OBJECT_NOT_FOUND", 429: "RATE_LIMITS"}.get(status, "VALIDATION_ERROR")
    if status >= 500:
        category = "INTERNAL_ERROR"
    return hubspot_error(status, message, category)
