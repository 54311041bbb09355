"""The one retry policy: budget, timeout-bearing call, classification, tenacity retry, counting.

Both connectors send every request through `CallPolicy.call`. The SDKs' own retries are off
(`Retry(total=0)` for HubSpot; Mailchimp has none), so a request is retried here and only here.

Creates are not idempotent: when a create's answer is lost (reset, timeout, cut or unreadable
answer, 5xx) the object may exist already, and sending the create again makes a second one or
meets "that name is taken". `call(..., idempotent=False)` never re-sends after such a failure
blindly; given a `FindExisting`, it looks the object up by its unique name first and returns
what it finds, within the same waits and attempt budget as any retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from syncd.errors import SyncdError, TransientError
from syncd.events import Event
from syncd.http.budget import Limiter, RateHeaders, Unlimited
from syncd.http.classify import (
    AmbiguousWriteError,
    Detect,
    may_have_applied,
    status_of,
    to_error,
)
from syncd.http.stats import ApiStats
from syncd.logs import get_logger

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
        max_retry_after_s: A server's `Retry-After` (or an advertised interval) is
            honoured up to this.
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


@dataclass(frozen=True)
class FindExisting(Generic[T]):
    """How a create whose answer was lost finds what it made, instead of making it twice.

    Attributes:
        find: Looks the object up by its unique name and returns it in the shape the create
            answers with; None when there is none. A read, sent through the policy as usual.
        already_exists: Whether a refusal is the API's "that name is taken" answer.
    """

    find: Callable[[], T | None]
    already_exists: Callable[[SyncdError], bool]


class _Attempts(Generic[T]):
    """The attempts of one call: plain sends, or a create that may have been applied already.

    Args:
        send: One request, classified.
        careful: The request must not take effect twice: a failure that may have been
            applied is raised as `AmbiguousWriteError` instead of being sent again blindly.
        existing: For a create: how to find what an earlier attempt may have made.
        on_found: Called when a lookup finds what an earlier attempt made.
    """

    def __init__(
        self,
        send: Callable[[], T],
        *,
        careful: bool,
        existing: FindExisting[T] | None,
        on_found: Callable[[], None],
    ) -> None:
        self._send = send
        self._careful = careful
        self._existing = existing
        self._on_found = on_found
        self._unsure = False  # an earlier attempt may have been applied
        self._finding = False  # the failure came from `existing.find`, which retried on its own

    def attempt(self) -> T:
        """One try: look up what a lost create made first, then send (again)."""
        existing = self._existing
        if existing is None or not self._unsure:
            return self._send_once()
        found = self._look(existing)
        if found is not None:
            return found
        try:
            return self._send_once()
        except SyncdError as err:
            if isinstance(err, TransientError) or not existing.already_exists(err):
                raise
            found = self._look(existing)  # the name may be taken by our own first try
            if found is None:
                raise
            return found

    def retryable(self, exc: BaseException) -> bool:
        """Whether tenacity should try again after `exc`."""
        if self._finding or not isinstance(exc, TransientError):
            return False
        return self._existing is not None or not isinstance(exc, AmbiguousWriteError)

    def _send_once(self) -> T:
        try:
            return self._send()
        except TransientError as err:
            if not self._careful or not may_have_applied(err):
                raise
            self._unsure = True
            raise AmbiguousWriteError.after(err) from None

    def _look(self, lookup: FindExisting[T]) -> T | None:
        try:
            found = lookup.find()
        except BaseException:
            self._finding = True
            raise
        if found is not None:
            self._on_found()
        return found


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
        rate_headers: Where the API advertises its rolling limit, if it does (the wait a 429
            asks for when it has no `Retry-After`).
        detect: The connector's reading of its vendor's refusals (see `classify.Detect`).
    """

    def __init__(
        self,
        api: str,
        retry: RetrySettings,
        stats: ApiStats,
        limiter: Limiter | None = None,
        *,
        rate_headers: RateHeaders | None = None,
        detect: Detect | None = None,
    ) -> None:
        self.api = api
        self.retry = retry
        self.stats = stats
        self.limiter: Limiter = limiter or Unlimited()
        self.rate_headers = rate_headers
        self.detect = detect
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
        idempotent: bool = True,
        existing: FindExisting[T] | None = None,
    ) -> T:
        """Send `fn` under the budget, retrying transient failures.

        Args:
            endpoint: A label such as `GET /crm/v3/objects/contacts` (counters, messages).
            fn: Makes the request and returns the parsed answer; raises SDK exceptions.
            limiter: The budget to use instead of the API's default (HubSpot search).
            write: Count the call as a write.
            idempotent: False for a request that must not take effect twice (a create).
                Refusals that say it was not processed (429 and `NOT_APPLIED_STATUSES`) are
                retried as usual; after any other transient failure it is not sent again
                blindly: without `existing` the failure is raised as `AmbiguousWriteError`.
            existing: For a create: how to find what an earlier attempt may have made. Implies
                `idempotent=False`. After a failure that may have been applied, each retry
                (after the usual wait, within the same attempt budget) first asks
                `existing.find` and returns what it finds; only when nothing is found is the
                create sent again. If that re-sent create meets `existing.already_exists`, the
                lookup is asked once more, since the name may be taken by our own first try.

        Raises:
            ConfigError: A person must act (401/403); never retried.
            TransientError: Still failing after the last attempt (`AmbiguousWriteError` when a
                non-idempotent request may have been applied and could not be resolved).
            RejectedRecordError: The request was refused (4xx); not retried.
            InternalError: An answer syncd cannot handle.
        """
        budget = limiter or self.limiter
        attempts = _Attempts(
            lambda: self._send_once(endpoint, fn, budget, write),
            careful=existing is not None or not idempotent,
            existing=existing,
            on_found=lambda: log.info(Event.HTTP_CREATE_FOUND, api=self.api, endpoint=endpoint),
        )
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts)
            | stop_after_delay(self.retry.max_elapsed_s),
            wait=self._wait,
            retry=retry_if_exception(attempts.retryable),
            reraise=True,
            sleep=self.retry.sleep,
            before_sleep=self._log_retry,
        )
        return retrying(attempts.attempt)

    def _send_once(self, endpoint: str, fn: Callable[[], T], budget: Limiter, write: bool) -> T:
        """One request under the budget: counted, its headers observed, its failure classified."""
        with budget.slot() as slot:
            self.stats.record_call(self.api, endpoint, write=write)
            try:
                result = fn()
            except Exception as exc:
                slot.observe(headers_of(exc))
                err = to_error(self.api, endpoint, exc, rate=self.rate_headers, detect=self.detect)
                if err is None:
                    raise
                self.stats.record_failure(self.api, endpoint, status_of(err))
                raise err from None  # the SDK exception text carries headers and bodies
            slot.observe(headers_of(result))
            return result

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
            Event.HTTP_RETRY,
            api=self.api,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=str(exc),
        )


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (for optional response parts)."""
    return value if isinstance(value, dict) else {}
