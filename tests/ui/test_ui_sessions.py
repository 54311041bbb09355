"""Session expiry and the login throttle, on a clock the tests move by hand (no sleeping)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from syncd.segments import RuleSet
from syncd.ui.security import Guard, LoginLimiter
from tests.ui.conftest import ORIGIN, TOKEN, FakeRelease, csrf_token, make_app
from tests.ui.seed import Seeded

TTL = timedelta(minutes=30)
FROM_CONSOLE = {"origin": ORIGIN}
BEARER = {"authorization": f"Bearer {TOKEN}"}


@dataclass
class FakeClock:
    """Seconds since the epoch, moved by `advance`."""

    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """The console's security clock."""
    return FakeClock()


def _app_client(
    db: Engine,
    rules: RuleSet,
    release: FakeRelease,
    clock: FakeClock,
    token: str | None,
    client: tuple[str, int] = ("testclient", 50000),
) -> TestClient:
    app = make_app(db, rules, release, token, session_ttl=TTL, security_clock=clock)
    return TestClient(app, follow_redirects=False, client=client)


@pytest.fixture
def timed(
    db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded, clock: FakeClock
) -> TestClient:
    """A console with a token, 30-minute sessions and the fake clock."""
    return _app_client(db, rules, release, clock, TOKEN)


def _login(client: TestClient, token: str = TOKEN) -> int:
    response = client.post("/login", data={"token": token, "next": "/runs"}, headers=FROM_CONSOLE)
    return int(response.status_code)


def test_sixth_failed_login_in_a_minute_is_429_and_a_good_login_after_it_works(
    timed: TestClient, clock: FakeClock
) -> None:
    for _ in range(5):
        assert _login(timed, "wrong") == 401
        clock.advance(1)
    sixth = timed.post("/login", data={"token": "wrong"}, headers=FROM_CONSOLE)
    assert sixth.status_code == 429
    assert sixth.headers["retry-after"] == "55"  # the first failure leaves the window then
    assert "Too many failed attempts; try again in 55 s." in sixth.text
    assert _login(timed) == 429  # while throttled a right token is no tell
    assert timed.get("/api/runs").status_code == 401  # and logged nobody in
    clock.advance(55)
    assert _login(timed) == 303
    assert timed.get("/runs").status_code == 200


def test_successful_logins_do_not_count(timed: TestClient) -> None:
    for _ in range(4):
        assert _login(timed, "wrong") == 401
    assert _login(timed) == 303
    assert _login(timed) == 303
    assert _login(timed, "wrong") == 401  # the fifth failure
    assert _login(timed, "wrong") == 429


def test_the_limit_is_per_client_address(
    db: Engine,
    rules: RuleSet,
    release: FakeRelease,
    seeded: Seeded,
    clock: FakeClock,
) -> None:
    guesser = _app_client(db, rules, release, clock, TOKEN, ("203.0.113.9", 4000))
    admin = TestClient(guesser.app, follow_redirects=False, client=("198.51.100.7", 4000))
    for _ in range(5):
        assert _login(guesser, "wrong") == 401
    assert _login(guesser) == 429
    assert _login(admin) == 303


def test_wrong_bearer_tokens_count_as_failed_logins(timed: TestClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert timed.get("/api/runs", headers={"authorization": "Bearer guess"}).status_code == 401
    throttled = timed.get("/api/runs", headers=BEARER)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "60"
    assert throttled.json() == {"detail": "too many failed login attempts; try again in 60 s"}
    assert _login(timed) == 429  # one limit for both doors
    clock.advance(60)
    assert timed.get("/api/runs", headers=BEARER).status_code == 200
    for _ in range(10):  # right tokens never use up the limit
        assert timed.get("/api/runs", headers=BEARER).status_code == 200


def test_limiter_global_cap_and_window(clock: FakeClock) -> None:
    limiter = LoginLimiter(per_client=5, global_limit=10, window=60, now=clock)
    for n in range(10):
        assert limiter.acquire(f"10.0.0.{n}") == 0
    clock.advance(20)
    assert limiter.acquire("10.0.0.99") == 40  # everyone's limit: the oldest slot frees first
    limiter.refund("10.0.0.3")  # a right token gives its slot back
    assert limiter.acquire("10.0.0.99") == 0
    clock.advance(40)
    assert all(limiter.acquire(f"10.0.1.{n}") == 0 for n in range(9))


def test_limiter_holds_under_parallel_guesses(clock: FakeClock) -> None:
    limiter = LoginLimiter(per_client=5, global_limit=50, window=60, now=clock)
    allowed: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        for _ in range(25):
            if limiter.acquire("198.51.100.1") == 0:
                with lock:
                    allowed.append(1)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 5


def test_an_expired_session_is_no_session(
    timed: TestClient, clock: FakeClock, seeded: Seeded, release: FakeRelease
) -> None:
    assert _login(timed) == 303
    token = csrf_token(timed, seeded.held_run)
    clock.advance(TTL.total_seconds() - 1)
    assert timed.get("/runs").status_code == 200
    clock.advance(1)
    page = timed.get("/runs")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fruns"
    assert timed.get("/api/runs").status_code == 401
    held = f"/runs/{seeded.held_run}"
    approve = timed.post(
        f"{held}/approve",
        data={"csrf_token": token},
        headers={**FROM_CONSOLE, "referer": f"{ORIGIN}{held}"},
    )
    assert approve.status_code == 303
    assert approve.headers["location"] == f"/login?next=%2Fruns%2F{seeded.held_run}"
    api = timed.post(f"/api{held}/approve", headers={**FROM_CONSOLE, "x-csrf-token": token})
    assert api.status_code == 401
    assert release.calls == []


def test_cookie_max_age_matches_the_session_ttl(
    timed: TestClient, client: TestClient, locked: TestClient
) -> None:
    login = timed.post("/login", data={"token": TOKEN}, headers=FROM_CONSOLE)
    assert "max-age=1800" in login.headers["set-cookie"].lower()
    login = locked.post("/login", data={"token": TOKEN}, headers=FROM_CONSOLE)
    assert "max-age=43200" in login.headers["set-cookie"].lower()  # the 12 h default
    assert "max-age=43200" in client.get("/runs").headers["set-cookie"].lower()


def test_an_anonymous_loopback_session_expires_and_a_fresh_one_is_issued(
    db: Engine,
    rules: RuleSet,
    release: FakeRelease,
    seeded: Seeded,
    clock: FakeClock,
) -> None:
    anon = _app_client(db, rules, release, clock, None)
    url = f"/runs/{seeded.held_run}/approve"
    old = csrf_token(anon, seeded.held_run)
    clock.advance(TTL.total_seconds())
    refused = anon.post(url, data={"csrf_token": old}, headers=FROM_CONSOLE)
    assert refused.status_code == 403 and release.calls == []
    page = anon.get(f"/runs/{seeded.held_run}")
    assert "syncd_session=" in page.headers["set-cookie"]  # a new session
    new = csrf_token(anon, seeded.held_run)
    assert new != old
    ok = anon.post(url, data={"csrf_token": new}, headers=FROM_CONSOLE)
    assert ok.status_code == 303 and release.calls == [seeded.held_run]


def test_the_issue_time_is_inside_the_mac(clock: FakeClock) -> None:
    guard = Guard(TOKEN, ttl=TTL, now=clock)
    cookie = guard.new_cookie(authenticated=True)
    nonce, issued, mac = cookie.split(".")
    assert int(issued) == int(clock.now)
    clock.advance(TTL.total_seconds() - 1)
    session = guard.read_cookie(cookie)
    assert session is not None and session.authenticated
    clock.advance(1)
    assert guard.read_cookie(cookie) is None
    assert guard.read_cookie(f"{nonce}.{int(clock.now)}.{mac}") is None  # renewed by hand
    assert guard.read_cookie(f"{nonce}.{issued}") is None
    assert guard.read_cookie(f"{nonce}.+{issued}.{mac}") is None
