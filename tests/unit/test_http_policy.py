"""The retry policy and the rate budgets, with zero-wait settings and a hand-driven clock."""

from __future__ import annotations

import threading

import pytest

from syncd.errors import ConfigError, TransientError
from syncd.http import (
    ApiStats,
    CallPolicy,
    ConcurrencyLimit,
    HeaderBudget,
    RetrySettings,
    RollingWindow,
)
from syncd.http.classify import Action, make_error


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
    return make_error(Action.RETRY, "hubspot", "GET /x", status, "busy", retry_after_s=retry_after)


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
    err = make_error(Action.CONFIG, "hubspot", "GET /x", 401, "bad token")
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
    budget = HeaderBudget(190, 10.0, clock=clock)
    with budget.slot() as slot:
        slot.observe({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "99",
                      "X-HubSpot-RateLimit-Interval-Milliseconds": "5000"})  # fmt: skip
    assert (budget.limit, budget.window_s) == (100, 5.0)
    assert budget.used() == 1


def test_header_budget_books_calls_made_by_others() -> None:
    clock = Clock()
    budget = HeaderBudget(10, 10.0, clock=clock)
    with budget.slot() as slot:
        # The server saw 8 calls in its window; we made 1: seven belong to someone else.
        slot.observe({"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "2"})
    assert budget.used() == 8
    with budget.slot(), budget.slot():
        assert budget.delay() == pytest.approx(10.0)


def test_header_budget_does_not_book_its_own_calls_the_server_still_counts() -> None:
    clock = Clock()
    budget = HeaderBudget(10, 10.0, clock=clock)
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
