"""One HTTP policy for both connectors: classification, retry, rate budgets, call counters.

- `classify`: status or exception → reason code, whose class says retry / configuration error /
  rejected / system error; a connector's `Detect` may refine the reason from its vendor's words.
- `policy`: `RetrySettings` and `CallPolicy.call`, the only place a request is retried (and
  where a create whose answer was lost finds what it made instead of making it twice).
- `budget`: proactive limiters (rolling window, header-fed window, concurrency cap); each
  connector sets their figures from its own `limits` module.
- `paging`: `paginate`, the one loop every paged read goes through, with cursor and offset
  strategies and a guard that stops on a repeated position.
- `stats`: `ApiStats`, thread-safe call, write and 429 counters per API and endpoint.
"""

from syncd.http.budget import (
    ConcurrencyLimit,
    HeaderBudget,
    Limiter,
    RateHeaders,
    RollingWindow,
    Unlimited,
)
from syncd.http.classify import (
    AmbiguousWriteError,
    Detect,
    HttpErrorInfo,
    may_have_applied,
    parse_retry_after,
    retry_after_from_headers,
    status_failure,
    status_of,
    to_error,
)
from syncd.http.paging import (
    CursorPaging,
    Fetched,
    Offset,
    OffsetPaging,
    PageToken,
    Paging,
    paginate,
)
from syncd.http.policy import CallPolicy, FindExisting, RetrySettings
from syncd.http.stats import ApiStats, EndpointStats

__all__ = [
    "AmbiguousWriteError",
    "ApiStats",
    "CallPolicy",
    "ConcurrencyLimit",
    "CursorPaging",
    "Detect",
    "EndpointStats",
    "Fetched",
    "FindExisting",
    "HeaderBudget",
    "HttpErrorInfo",
    "Limiter",
    "Offset",
    "OffsetPaging",
    "PageToken",
    "Paging",
    "RateHeaders",
    "RetrySettings",
    "RollingWindow",
    "Unlimited",
    "may_have_applied",
    "paginate",
    "parse_retry_after",
    "retry_after_from_headers",
    "status_failure",
    "status_of",
    "to_error",
]
