"""Failure classification: every HTTP status or transport exception maps to a reason code.

The status table is the single place that decides whether a failure is retried (waiting helps),
is a configuration error (a person must act), rejects the records of one request (skip them and
say why) or is a system error (a bug, or an answer syncd does not understand); the class comes
from the reason, through the failure table of `syncd.failures`. This layer knows statuses and
transports only: a connector may pass a `Detect` that reads its vendor's words for a more
precise reason (Mailchimp's compliance refusal, HubSpot's taken list name). Connectors never
inspect SDK exceptions themselves: `to_error` turns any of them into a `syncd.errors` class whose
message is already redacted (no token, no email address) and carries the HTTP status.
"""

from __future__ import annotations

import email.utils
import json
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions

from syncd.errors import ConfigError, InternalError, RejectedRecordError, SyncdError, TransientError
from syncd.failures import ErrorClass, Reason, advice, class_of
from syncd.http.budget import RateHeaders
from syncd.redact import REDACTOR

#: Status → reason; the reason's class in `syncd.failures` decides whether it is retried
#: (transient), needs a person (config), refuses the records sent (rejected) or is a bug
#: (system). Statuses seen from HubSpot: api-facts 1.4 (423 locked, 477 migration in progress,
#: 502/504 processing limits, 521-524 edge errors); from Mailchimp: 2.5 (429 connection cap,
#: 403 firewall handled as a permission error).
STATUS_REASONS: Mapping[int, Reason] = {
    400: Reason.RECORD_REFUSED,
    401: Reason.AUTH_REFUSED,
    402: Reason.CONFIG_INVALID,
    403: Reason.SCOPE_MISSING,
    404: Reason.CONTACT_DELETED,
    405: Reason.INTERNAL,
    408: Reason.VENDOR_UNAVAILABLE,
    409: Reason.DUPLICATE_EMAIL,
    410: Reason.CONTACT_DELETED,
    413: Reason.BATCH_TOO_LARGE,  # the caller splits the batch
    414: Reason.BATCH_TOO_LARGE,
    415: Reason.INTERNAL,
    422: Reason.RECORD_REFUSED,
    423: Reason.TEMPORARY_FAILURE,
    425: Reason.TEMPORARY_FAILURE,
    429: Reason.RATE_LIMITED,
    477: Reason.TEMPORARY_FAILURE,
    500: Reason.VENDOR_UNAVAILABLE,
    501: Reason.INTERNAL,
    502: Reason.VENDOR_UNAVAILABLE,
    503: Reason.VENDOR_UNAVAILABLE,
    504: Reason.VENDOR_UNAVAILABLE,
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

#: A connector's reading of its vendor's refusal: `(status, parsed body) -> reason`, or None
#: to keep the status's reason. It may only refine what the status means, not its class.
Detect = Callable[[int, Any], "Reason | None"]


def status_failure(status: int) -> tuple[ErrorClass, Reason]:
    """Class and reason of an HTTP status (other 4xx rejected, other 5xx transient, else bug)."""
    reason = STATUS_REASONS.get(status)
    if reason is None:
        if 500 <= status <= 599:
            reason = Reason.VENDOR_UNAVAILABLE
        elif 400 <= status <= 499:
            reason = Reason.RECORD_REFUSED
        else:
            reason = Reason.INTERNAL
    return class_of(reason), reason


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
    """

    api: str
    endpoint: str
    status: int | None
    vendor_message: str


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
        amb = cls(err.message, retry_after_s=err.retry_after_s, reason=err.reason, hint=err.hint)
        if isinstance(err, HttpErrorInfo):
            amb.api, amb.endpoint, amb.status = err.api, err.endpoint, err.status
            amb.vendor_message = err.vendor_message
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


def _vendor_message(data: Any) -> str:
    """The human part of a parsed error body, redacted and shortened.

    Both vendors' error bodies are JSON objects with the words in some of `title`, `message`,
    `detail` and `errors[].message` (api-facts 1.5, 2.5).
    """
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
    """Duck-typed.

    Each HubSpot sub-package has its own ApiException; Mailchimp's has `status_code` and `text`
    (api-facts 3.1, 3.2).
    """
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        headers = getattr(exc, "headers", None)
        return status, getattr(exc, "body", None), headers if isinstance(headers, Mapping) else None
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code, getattr(exc, "text", None), None
    return None, None, None


def make_error(
    api: str,
    endpoint: str,
    status: int | None,
    message: str,
    *,
    reason: Reason | None = None,
    retry_after_s: float | None = None,
) -> SyncdError:
    """Build the `syncd.errors` class of a failed exchange, with its details attached.

    Args:
        api: `hubspot` or `mailchimp`.
        endpoint: The endpoint label.
        status: The HTTP status, None when there was no readable answer.
        message: The vendor's message, already redacted.
        reason: What happened, when the caller knows more than the status says; required
            without a status (its class then picks the error class).
        retry_after_s: The wait the server asked for (transient errors only).

    Returns:
        An error whose class comes from the status (so a refined reason never changes whether
        it is retried); configuration errors carry the failure table's advice as their hint.
    """
    if status is not None:
        error_class, default = status_failure(status)
    else:
        default = reason or Reason.INTERNAL
        error_class = class_of(default)
    reason = reason or default
    where = f"{api} {endpoint}"
    head = f"{where}: HTTP {status}" if status else where
    text = f"{head}: {message}" if message else head
    err: SyncdError
    if error_class is ErrorClass.TRANSIENT:
        err = ApiTransientError(text, retry_after_s=retry_after_s, reason=reason)
    elif error_class is ErrorClass.CONFIG:
        err = ApiConfigError(text, reason=reason, hint=advice(reason, api))
    elif error_class is ErrorClass.REJECTED:
        err = ApiRejectedError(text, reason=reason)
    else:
        err = ApiInternalError(text, reason=reason)
    assert isinstance(err, HttpErrorInfo)
    err.api, err.endpoint, err.status, err.vendor_message = api, endpoint, status, message
    return err


def to_error(
    api: str,
    endpoint: str,
    exc: BaseException,
    *,
    rate: RateHeaders | None = None,
    detect: Detect | None = None,
) -> SyncdError | None:
    """The classified, redacted error for an SDK or transport exception.

    Args:
        api: `hubspot` or `mailchimp`.
        endpoint: The endpoint label.
        exc: What the SDK or the transport raised.
        rate: Where the API advertises its rolling limit (for the wait of a 429).
        detect: The connector's reading of its vendor's refusals.

    Returns:
        The error, or None for exceptions that are not about the HTTP exchange (bugs in
        syncd), which the caller re-raises unchanged.
    """
    if isinstance(exc, SyncdError):
        return exc
    status, body, headers = _status_and_body(exc)
    if status is not None:
        data = _body_data(body)
        error_class, _ = status_failure(status)
        transient = error_class is ErrorClass.TRANSIENT
        return make_error(
            api,
            endpoint,
            status,
            _vendor_message(data),
            reason=detect(status, data) if detect is not None else None,
            retry_after_s=retry_after_from_headers(headers, rate) if transient else None,
        )
    inner = getattr(exc, "text", None)  # Mailchimp wraps transport errors: text=<exception>
    if isinstance(inner, BaseException):
        exc = inner
    if isinstance(exc, TRANSIENT_EXCEPTIONS):
        kind = type(exc).__name__
        reason = Reason.VENDOR_UNAVAILABLE
        return make_error(api, endpoint, None, f"{kind} (no answer)", reason=reason)
    return None
