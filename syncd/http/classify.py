"""Failure classification: every HTTP status or transport exception maps to one action.

The table is the single place that decides whether a failure is retried (waiting helps), is a
configuration error (a person must act), rejects the records of one request (skip them and say
why) or is a system error (a bug, or an answer syncd does not understand). Connectors never
inspect SDK exceptions themselves: `to_error` turns any of them into a `syncd.errors` class whose
message is already redacted (no token, no email address) and carries the HTTP status.
"""

from __future__ import annotations

import email.utils
import enum
import json
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions

from syncd.errors import ConfigError, InternalError, RejectedRecordError, SyncdError, TransientError
from syncd.http.budget import RateHeaders
from syncd.redact import REDACTOR


class Action(enum.StrEnum):
    """What to do about a failure."""

    RETRY = "retry"
    CONFIG = "config"
    REJECT = "reject"
    SYSTEM = "system"


#: Status → action. HubSpot: api-facts 1.4 (423 locked, 477 migration, 502/504 processing
#: limits, 521-524 edge errors); Mailchimp: 2.5 (429 concurrency, 403 WAF handled as config).
STATUS_ACTIONS: Mapping[int, Action] = {
    400: Action.REJECT,
    401: Action.CONFIG,
    402: Action.CONFIG,
    403: Action.CONFIG,
    404: Action.REJECT,
    405: Action.SYSTEM,
    408: Action.RETRY,
    409: Action.REJECT,
    410: Action.REJECT,
    413: Action.REJECT,  # the caller splits the batch
    414: Action.REJECT,
    415: Action.SYSTEM,
    422: Action.REJECT,
    423: Action.RETRY,
    425: Action.RETRY,
    429: Action.RETRY,
    477: Action.RETRY,
    500: Action.RETRY,
    501: Action.SYSTEM,
    502: Action.RETRY,
    503: Action.RETRY,
    504: Action.RETRY,
}

#: Refusals that say the request was turned away unprocessed, so sending a create again cannot
#: make a second object: 429 (HubSpot's rate limits and Mailchimp's connection cap refuse the
#: call, api-facts 1.4 and 2.5), 408 and 425 (RFC 9110 and RFC 8470: not processed), HubSpot's
#: 423 Locked and 477 Migration in Progress (api-facts 1.4: wait, then send again). Any other
#: transient failure, 5xx included, may come after the server applied the request.
NOT_APPLIED_STATUSES: frozenset[int] = frozenset({408, 423, 425, 429, 477})

#: Transport failures: the request may not have reached the server, or its answer was cut off.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,  # MaxRetryError, ProtocolError, ReadTimeoutError, ...
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
)

_HINTS: Mapping[tuple[str, int], str] = {
    ("hubspot", 401): "HubSpot refused the access token: set hubspot.access_token "
    "(env SYNCD_HUBSPOT__ACCESS_TOKEN) to a valid private-app token",
    ("hubspot", 403): "the HubSpot private app lacks a scope this call needs (crm.objects.contacts"
    ".read/write, crm.lists.read/write, crm.schemas.contacts.write, deals and companies read)",
    ("mailchimp", 401): "Mailchimp refused the API key: set mailchimp.api_key (env "
    "SYNCD_MAILCHIMP__API_KEY); its -usN suffix must match the datacenter in base_url",
    ("mailchimp", 403): "Mailchimp refused access: check the key's permissions, or the request "
    "was blocked by Mailchimp's firewall",
}


def action_for_status(status: int) -> Action:
    """The action for an HTTP status (other 4xx reject, other 5xx retry, anything else: bug)."""
    found = STATUS_ACTIONS.get(status)
    if found is not None:
        return found
    if 500 <= status <= 599:
        return Action.RETRY
    if 400 <= status <= 499:
        return Action.REJECT
    return Action.SYSTEM


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date.

    Returns None when the header is missing or unreadable; never negative (a date in the past
    means "now"). Clamping to a maximum is the retry policy's job.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str] | None, rate: RateHeaders | None = None
) -> float | None:
    """The wait a 429/503 asks for: `Retry-After`, else the advertised window when it is spent.

    Args:
        headers: The failed answer's headers.
        rate: Where the API advertises its rolling limit, if it does; a spent window means
            waiting one interval.
    """
    if not headers:
        return None
    h = {k.lower(): v for k, v in headers.items()}
    explicit = parse_retry_after(h.get("retry-after"))
    if explicit is not None or rate is None:
        return explicit
    _, remaining, interval = rate.read(headers)
    if remaining == 0 and interval is not None:
        return max(0.0, interval / 1000)
    return None


class HttpErrorInfo:
    """Details of the HTTP exchange that failed, attached to every error `to_error` makes.

    Attributes:
        api: `hubspot` or `mailchimp`.
        endpoint: The endpoint label the call was made under.
        status: The HTTP status; None when no answer was read.
        vendor_message: The vendor's own words, redacted and shortened.
        vendor_code: HubSpot's `subCategory` (`ILS.DUPLICATE_LIST_NAMES`), when the body has one:
            the machine-readable reason callers may branch on.
    """

    api: str
    endpoint: str
    status: int | None
    vendor_message: str
    vendor_code: str | None = None


class ApiConfigError(ConfigError, HttpErrorInfo):
    """401/403 and friends: a person must fix credentials or scopes."""


class ApiTransientError(TransientError, HttpErrorInfo):
    """429, 5xx, timeouts, dropped connections: retried by the policy."""


class ApiRejectedError(RejectedRecordError, HttpErrorInfo):
    """4xx that refuses what was sent: the records of that request are rejected."""


class ApiInternalError(InternalError, HttpErrorInfo):
    """A status syncd should never cause, or an answer it cannot read."""


class AmbiguousWriteError(ApiTransientError):
    """A write that must not be sent twice failed where the server may still have applied it.

    Raised by `CallPolicy.call(..., idempotent=False)` instead of sending again blindly, after no
    answer, a cut or unreadable answer, or a 5xx. Waiting helps, as with any transient error,
    but the caller must first find out whether the first request took effect.
    """

    @classmethod
    def after(cls, err: TransientError) -> AmbiguousWriteError:
        """The same failure, marked as possibly applied (exchange details kept)."""
        amb = cls(err.message, retry_after_s=err.retry_after_s, hint=err.hint)
        if isinstance(err, HttpErrorInfo):
            amb.api, amb.endpoint, amb.status = err.api, err.endpoint, err.status
            amb.vendor_message, amb.vendor_code = err.vendor_message, err.vendor_code
        return amb


def may_have_applied(err: BaseException) -> bool:
    """Whether a transient failure leaves open that the server applied the request.

    Only refusals in `NOT_APPLIED_STATUSES` say it surely did not; anything else transient (no
    answer, a cut or unreadable answer, a 5xx) may have come after the write was done.
    """
    return isinstance(err, TransientError) and status_of(err) not in NOT_APPLIED_STATUSES


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an error carries, if any."""
    return exc.status if isinstance(exc, HttpErrorInfo) else None


def _body_data(body: Any) -> Any:
    """An error body as JSON when it is JSON (bytes, text or already parsed), else as given."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _vendor_code(body: Any) -> str | None:
    """HubSpot's `subCategory` of an error body, if it has one (api-facts 1.5)."""
    data = _body_data(body)
    code = data.get("subCategory") if isinstance(data, Mapping) else None
    return code if isinstance(code, str) and code else None


def _vendor_message(body: Any) -> str:
    """The human part of a HubSpot or Mailchimp error body, redacted and shortened."""
    data = _body_data(body)
    if isinstance(data, Mapping):
        parts = [str(data[k]) for k in ("title", "message", "detail") if data.get(k)]
        errors = data.get("errors")
        if isinstance(errors, list):
            parts += [str(e.get("message")) for e in errors[:3] if isinstance(e, Mapping)]
        text = " — ".join(p for p in parts if p)
    else:
        text = str(data or "")
    return REDACTOR.text(" ".join(text.split()))[:300]


def _status_and_body(exc: BaseException) -> tuple[int | None, Any, Mapping[str, str] | None]:
    """Duck-typed: each HubSpot sub-package has its own ApiException; Mailchimp's has
    `status_code` and `text` (api-facts 3.1, 3.2)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        headers = getattr(exc, "headers", None)
        return status, getattr(exc, "body", None), headers if isinstance(headers, Mapping) else None
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code, getattr(exc, "text", None), None
    return None, None, None


def make_error(
    action: Action,
    api: str,
    endpoint: str,
    status: int | None,
    message: str,
    *,
    retry_after_s: float | None = None,
    code: str | None = None,
) -> SyncdError:
    """Build the `syncd.errors` class for `action`, with the exchange details attached.

    Args:
        action: What to do about the failure; picks the class.
        api: `hubspot` or `mailchimp`.
        endpoint: The endpoint label.
        status: The HTTP status, None when there was no readable answer.
        message: The vendor's message, already redacted.
        retry_after_s: The wait the server asked for (transient errors only).
        code: The vendor's machine-readable reason (`HttpErrorInfo.vendor_code`).
    """
    where = f"{api} {endpoint}"
    head = f"{where}: HTTP {status}" if status else where
    text = f"{head}: {message}" if message else head
    err: SyncdError
    if action is Action.RETRY:
        err = ApiTransientError(text, retry_after_s=retry_after_s)
    elif action is Action.CONFIG:
        err = ApiConfigError(text, hint=_HINTS.get((api, status or 0)))
    elif action is Action.REJECT:
        err = ApiRejectedError(text)
    else:
        err = ApiInternalError(text)
    assert isinstance(err, HttpErrorInfo)
    err.api, err.endpoint, err.status, err.vendor_message = api, endpoint, status, message
    err.vendor_code = code
    return err


def to_error(
    api: str, endpoint: str, exc: BaseException, *, rate: RateHeaders | None = None
) -> SyncdError | None:
    """The classified, redacted error for an SDK or transport exception.

    Args:
        api: `hubspot` or `mailchimp`.
        endpoint: The endpoint label.
        exc: What the SDK or the transport raised.
        rate: Where the API advertises its rolling limit (for the wait of a 429).

    Returns:
        The error, or None for exceptions that are not about the HTTP exchange (bugs in
        syncd), which the caller re-raises unchanged.
    """
    if isinstance(exc, SyncdError):
        return exc
    status, body, headers = _status_and_body(exc)
    if status is not None:
        action = action_for_status(status)
        retry_after = retry_after_from_headers(headers, rate) if action is Action.RETRY else None
        return make_error(
            action,
            api,
            endpoint,
            status,
            _vendor_message(body),
            retry_after_s=retry_after,
            code=_vendor_code(body),
        )
    inner = getattr(exc, "text", None)  # Mailchimp wraps transport errors: text=<exception>
    if isinstance(inner, BaseException):
        exc = inner
    if isinstance(exc, TRANSIENT_EXCEPTIONS):
        kind = type(exc).__name__
        return make_error(Action.RETRY, api, endpoint, None, f"{kind} (no answer)")
    return None
