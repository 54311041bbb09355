"""One HTTP policy for both connectors: classification, retry, rate budgets, call counters.

- `classify`: status or exception → retry / configuration error / rejected / system error.
- `policy`: `RetrySettings` and `CallPolicy.call`, the only place a request is retried.
- `budget`: proactive limiters (HubSpot's header-fed window, search 4/s, Mailchimp 9 at once).
- `stats`: `ApiStats`, thread-safe call, write and 429 counters per API and endpoint.
"""

from syncd.http.budget import (
    ConcurrencyLimit,
    HeaderBudget,
    Limiter,
    RollingWindow,
    Unlimited,
)
from syncd.http.classify import (
    Action,
    HttpErrorInfo,
    action_for_status,
    parse_retry_after,
    retry_after_from_headers,
    status_of,
    to_error,
)
from syncd.http.policy import CallPolicy, RetrySettings
from syncd.http.stats import ApiStats, EndpointStats

__all__ = [
    "Action",
    "ApiStats",
    "CallPolicy",
    "ConcurrencyLimit",
    "EndpointStats",
    "HeaderBudget",
    "HttpErrorInfo",
    "Limiter",
    "RetrySettings",
    "RollingWindow",
    "Unlimited",
    "action_for_status",
    "parse_retry_after",
    "retry_after_from_headers",
    "status_of",
    "to_error",
]
