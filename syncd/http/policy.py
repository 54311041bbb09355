"""The one retry policy: budget, timeout-bearing call, classification, tenacity retry, counting.

Both connectors send every request through `CallPolicy.call`. The SDKs' own retries are off
(`Retry(total=0)` for HubSpot; Mailchimp has none), so a request is retried here and only here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from syncd.audit import get_logger
from syncd.errors import TransientError
from syncd.http.budget import Limiter, Unlimited
from syncd.http.classify import status_of, to_error
from syncd.http.stats import ApiStats

T = TypeVar("T")
log = get_logger(__name__)


@dataclass(frozen=True)
class RetrySettings:
    """When to retry a transient failure and how long to wait.

    Attributes:
        max_attempts: Attempts in all, the first one included.
        max_elapsed_s: Stop retrying once this long has passed since the first attempt.
        initial_wait_s: First backoff; doubles on each retry.
        max_wait_s: Longest backoff.
        jitter_s: Random extra wait, up to this much, so clients do not retry in step.
        max_retry_after_s: A server's `Retry-After` (or HubSpot interval) is honoured up to this.
        timeout_s: Read timeout of every call (connect timeout: the smaller of this and 10 s).
        sleep: How to wait; tests keep `time.sleep` and set every wait to 0 instead.
    """

    max_attempts: int = 6
    max_elapsed_s: float = 300.0
    initial_wait_s: float = 1.0
    max_wait_s: float = 60.0
    jitter_s: float = 1.0
    max_retry_after_s: float = 120.0
    timeout_s: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    @classmethod
    def immediate(cls, max_attempts: int = 8, timeout_s: float = 5.0) -> RetrySettings:
        """Zero waits, for tests: retries happen at once, `Retry-After` is clamped to 0."""
        return cls(
            max_attempts=max_attempts,
            max_elapsed_s=120.0,
            initial_wait_s=0.0,
            max_wait_s=0.0,
            jitter_s=0.0,
            max_retry_after_s=0.0,
            timeout_s=timeout_s,
        )

    @property
    def connect_timeout_s(self) -> float:
        """The connect part of the timeout."""
        return min(10.0, self.timeout_s)


def headers_of(obj: object) -> Mapping[str, str] | None:
    """Response headers of an SDK answer or exception, when it has them."""
    headers = getattr(obj, "headers", None)
    return headers if isinstance(headers, Mapping) else None


class CallPolicy:
    """How one API is called: its limiter, the retry settings and the shared counters.

    Args:
        api: `hubspot` or `mailchimp`; names errors and counters.
        retry: Retry settings.
        stats: Where calls and 429s are counted.
        limiter: The default budget of this API's calls.
    """

    def __init__(
        self,
        api: str,
        retry: RetrySettings,
        stats: ApiStats,
        limiter: Limiter | None = None,
    ) -> None:
        self.api = api
        self.retry = retry
        self.stats = stats
        self.limiter: Limiter = limiter or Unlimited()
        self._backoff = wait_exponential_jitter(
            multiplier=retry.initial_wait_s, max=retry.max_wait_s, jitter=retry.jitter_s
        )

    def call(
        self,
        endpoint: str,
        fn: Callable[[], T],
        *,
        limiter: Limiter | None = None,
        write: bool = False,
    ) -> T:
        """Send `fn` under the budget, retrying transient failures.

        Args:
            endpoint: A label such as `GET /crm/v3/objects/contacts` (counters, messages).
            fn: Makes the request and returns the parsed answer; raises SDK exceptions.
            limiter: The budget to use instead of the API's default (HubSpot search).
            write: Count the call as a write.

        Raises:
            ConfigError: A person must act (401/403); never retried.
            TransientError: Still failing after the last attempt.
            RejectedRecordError: The request was refused (4xx); not retried.
            InternalError: An answer syncd cannot handle.
        """
        budget = limiter or self.limiter

        def attempt() -> T:
            with budget.slot() as slot:
                self.stats.record_call(self.api, endpoint, write=write)
                try:
                    result = fn()
                except Exception as exc:
                    slot.observe(headers_of(exc))
                    err = to_error(self.api, endpoint, exc)
                    if err is None:
                        raise
                    self.stats.record_failure(self.api, endpoint, status_of(err))
                    raise err from None  # the SDK exception text carries headers and bodies
                slot.observe(headers_of(result))
                return result

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts)
            | stop_after_delay(self.retry.max_elapsed_s),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            sleep=self.retry.sleep,
            before_sleep=self._log_retry,
        )
        return retrying(attempt)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = exc.retry_after_s if isinstance(exc, TransientError) else None
        if hint is not None:
            return min(hint, self.retry.max_retry_after_s)
        wait: float = self._backoff(state)
        return wait

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "http.retry",
            api=self.api,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=str(exc),
        )


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (for optional response parts)."""
    return value if isinstance(value, dict) else {}
