"""The retry policy and the rate budgets, with zero-wait settings and a hand-driven clock."""

from __future__ import annotations

import threading

import pytest

from connectors.hubspot.limits import RATE_HEADERS
from syncd.errors import ConfigError, RejectedRecordError, SyncdError, TransientError
from syncd.failures import Reason
from syncd.http import (
    AmbiguousWriteError,
    ApiStats,
    CallPolicy,
    ConcurrencyLimit,
    FindExisting,
    HeaderBudget,
    HttpErrorInfo,
    RetrySettings,
    RollingWindow,
    may_have_applied,
    status_of,
)
from syncd.http.classify import NOT_APPLIED_STATUSES, make_error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flaky(failures: list[Exception], result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def transient(status: int = 503, retry_after: float | None = None) -> Exception:
    return make_error("hubspot", "GET /x", status, "busy", retry_after_s=retry_after)


def test_transient_failures_are_retried_until_they_pass() -> None:
    stats = ApiStats()
    policy = CallPolicy("hubspot", RetrySettings.immediate(), stats)
    fn, calls = flaky([transient(429), transient(503), transient(502)])
    assert policy.call("GET /x", fn) == "ok"
    assert calls["n"] == 4
    assert stats.api("hubspot").api_calls == 4
    assert stats.api("hubspot").http_429 == 1
    assert stats.endpoints("hubspot")["GET /x"].failures == 3


def test_retries_stop_after_max_attempts() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(max_attempts=3), ApiStats())
    fn, calls = flaky([transient() for _ in range(5)])
    with pytest.raises(TransientError):
        policy.call("GET /x", fn)
    assert calls["n"] == 3


def test_configuration_errors_are_never_retried() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    err = make_error("hubspot", "GET /x", 401, "bad token")
    fn, calls = flaky([err])
    with pytest.raises(ConfigError):
        policy.call("GET /x", fn)
    assert calls["n"] == 1


def test_retry_after_is_honoured_and_clamped() -> None:
    waits: list[float] = []
    settings = RetrySettings(
        max_attempts=4, initial_wait_s=0.5, max_wait_s=8, jitter_s=0, max_retry_after_s=30,
        sleep=waits.append,
    )  # fmt: skip
    policy = CallPolicy("hubspot", settings, ApiStats())
    fn, _ = flaky([transient(429, 12.0), transient(429, 300.0), transient(503)])
    assert policy.call("GET /x", fn) == "ok"
    assert waits[:2] == [12.0, 30.0]
    assert 0 < waits[2] <= 8


def test_immediate_settings_never_wait() -> None:
    waits: list[float] = []
    settings = RetrySettings.immediate()
    policy = CallPolicy(
        "hubspot", RetrySettings(**{**settings.__dict__, "sleep": waits.append}), ApiStats()
    )
    fn, _ = flaky([transient(429, 60.0), transient()])
    policy.call("GET /x", fn)
    assert waits == [0.0, 0.0]


def test_rolling_window_counts_calls_in_flight_and_until_a_window_after_the_answer() -> None:
    clock = Clock()
    window = RollingWindow(2, 10.0, clock)
    with window.slot():
        with window.slot():
            assert window.delay() == 10.0  # both in flight: wait for an answer
        clock.now += 1
    assert window.used() == 2
    assert window.delay() == pytest.approx(9.0)  # the first answer came at 100
    clock.now += 9
    assert window.delay() == 0.0
    assert window.used() == 1


def test_header_budget_adopts_the_advertised_limit() -> None:
    clock = Clock()
    budget = HeaderBudget(190, 10.0, headers=RATE_HEADERS, clock=clock)
    with budget.slot() as slot:
        slot.observe({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "99",
                      "X-HubSpot-RateLimit-Interval-Milliseconds": "5000"})  # fmt: skip
    assert (budget.limit, budget.window_s) == (100, 5.0)
    assert budget.used() == 1


def test_header_budget_books_calls_made_by_others() -> None:
    clock = Clock()
    budget = HeaderBudget(10, 10.0, headers=RATE_HEADERS, clock=clock)
    with budget.slot() as slot:
        # The server saw 8 calls in its window; we made 1: seven belong to someone else.
        slot.observe({"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "2"})
    assert budget.used() == 8
    with budget.slot(), budget.slot():
        assert budget.delay() == pytest.approx(10.0)


def test_header_budget_does_not_book_its_own_calls_the_server_still_counts() -> None:
    clock = Clock()
    budget = HeaderBudget(10, 10.0, headers=RATE_HEADERS, clock=clock)
    with budget.slot():
        pass
    clock.now += 10.01  # our answer is a window old; the server stamped it a little earlier
    with budget.slot() as slot:
        slot.observe({"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "8"})
    assert budget.used() == 1


def test_concurrency_limit_caps_calls_in_flight() -> None:
    limit = ConcurrencyLimit(2)
    inside, peak = 0, 0
    lock = threading.Lock()
    release = threading.Event()
    started = threading.Barrier(3)

    def worker() -> None:
        nonlocal inside, peak
        started.wait()
        with limit.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(5)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if inside == 2:
                break
    release.set()
    for t in threads:
        t.join()
    assert peak == 2


# -- writes that must not be sent twice ----------------------------------------------------------


def no_answer() -> Exception:
    no_answer = Reason.VENDOR_UNAVAILABLE
    return make_error("hubspot", "POST /x", None, "ReadTimeoutError (no answer)", reason=no_answer)


def taken() -> Exception:
    return make_error("hubspot", "POST /x", 400, "name taken", reason=Reason.NAME_TAKEN)


def is_taken(err: SyncdError) -> bool:
    return isinstance(err, HttpErrorInfo) and err.reason is Reason.NAME_TAKEN


class Finder:
    """A lookup by name that finds nothing until `made` is set."""

    def __init__(self, made: str | None = None) -> None:
        self.made = made
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.made


@pytest.mark.parametrize("failure", [transient(500), transient(503), transient(502), no_answer()])
def test_a_non_idempotent_call_is_not_sent_again_after_a_failure_that_may_have_applied(
    failure: Exception,
) -> None:
    stats = ApiStats()
    policy = CallPolicy("hubspot", RetrySettings.immediate(), stats)
    fn, calls = flaky([failure])
    with pytest.raises(AmbiguousWriteError) as info:
        policy.call("POST /x", fn, write=True, idempotent=False)
    assert calls["n"] == 1
    assert info.value.status == status_of(failure)
    assert isinstance(info.value, TransientError)  # waiting still helps; a run may retry it
    assert stats.endpoints("hubspot")["POST /x"].failures == 1


@pytest.mark.parametrize("status", sorted(NOT_APPLIED_STATUSES))
def test_a_non_idempotent_call_is_retried_after_a_refusal_that_was_not_processed(
    status: int,
) -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([transient(status), transient(status)])
    assert policy.call("POST /x", fn, idempotent=False) == "ok"
    assert calls["n"] == 3
    assert not may_have_applied(transient(status))


def test_only_refusals_that_were_not_processed_are_safe_to_send_again() -> None:
    assert may_have_applied(no_answer())
    assert may_have_applied(transient(500)) and may_have_applied(transient(504))
    assert not may_have_applied(transient(429))
    assert not may_have_applied(taken())  # a refusal is not transient at all


def test_a_lost_create_that_was_applied_is_found_not_sent_again() -> None:
    waits: list[float] = []
    settings = RetrySettings(
        max_attempts=4, initial_wait_s=0.5, max_wait_s=8, jitter_s=0, sleep=waits.append
    )
    policy = CallPolicy("hubspot", settings, ApiStats())
    fn, calls = flaky([no_answer()], result="second")
    find = Finder(made="first")
    got = policy.call("POST /x", fn, write=True, existing=FindExisting(find, is_taken))
    assert got == "first"
    assert (calls["n"], find.calls) == (1, 1)
    assert waits == [0.5]  # the lookup waited like any retry


def test_a_lost_create_that_was_not_applied_is_sent_again() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([transient(502), no_answer()], result="made")
    find = Finder()
    assert policy.call("POST /x", fn, existing=FindExisting(find, is_taken)) == "made"
    assert (calls["n"], find.calls) == (3, 2)  # looked before each re-send


def test_lost_creates_share_the_attempt_budget_with_other_retries() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(max_attempts=4), ApiStats())
    fn, calls = flaky([transient(429), no_answer(), transient(429), no_answer(), no_answer()])
    find = Finder()
    with pytest.raises(AmbiguousWriteError):
        policy.call("POST /x", fn, existing=FindExisting(find, is_taken))
    assert calls["n"] == 4
    assert find.calls == 2  # before attempts 3 and 4; not before 2, which followed a plain 429


def test_name_taken_after_a_lost_create_is_our_own_create_and_is_adopted() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([no_answer(), taken()])
    # The first create shows up late: not seen by the first look, seen by the next.
    looks = iter([None, "late"])
    got = policy.call("POST /x", fn, existing=FindExisting(lambda: next(looks), is_taken))
    assert got == "late"
    assert calls["n"] == 2


def test_name_taken_on_a_clean_first_create_is_raised_without_a_lookup() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([transient(429), taken()])
    find = Finder(made="someone else's")
    with pytest.raises(RejectedRecordError) as info:
        policy.call("POST /x", fn, existing=FindExisting(find, is_taken))
    assert is_taken(info.value)
    assert (calls["n"], find.calls) == (2, 0)  # a 429 was not processed: nothing of ours exists


def test_name_taken_after_a_lost_create_with_nothing_found_is_raised() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([transient(503), taken()])
    find = Finder()
    with pytest.raises(RejectedRecordError):
        policy.call("POST /x", fn, existing=FindExisting(find, is_taken))
    assert (calls["n"], find.calls) == (2, 2)  # before the re-send, and after its refusal


def test_a_failing_lookup_is_raised_as_it_is_not_retried_again() -> None:
    policy = CallPolicy("hubspot", RetrySettings.immediate(), ApiStats())
    fn, calls = flaky([no_answer(), no_answer()])
    looked = {"n": 0}

    def broken() -> str | None:
        looked["n"] += 1
        raise transient(503)  # the lookup's own call gave up after its own retries

    with pytest.raises(TransientError) as info:
        policy.call("POST /x", fn, existing=FindExisting(broken, is_taken))
    assert not isinstance(info.value, AmbiguousWriteError)
    assert (calls["n"], looked["n"]) == (1, 1)


def test_an_ambiguous_error_keeps_the_exchange_details() -> None:
    err = make_error("mailchimp", "POST /s", 502, "bad gateway", retry_after_s=2.0)
    assert isinstance(err, TransientError)
    amb = AmbiguousWriteError.after(err)
    assert (amb.api, amb.endpoint, amb.status) == ("mailchimp", "POST /s", 502)
    assert amb.vendor_message == "bad gateway"
    assert amb.reason is Reason.VENDOR_UNAVAILABLE
    assert amb.retry_after_s == 2.0 and str(amb) == str(err)
