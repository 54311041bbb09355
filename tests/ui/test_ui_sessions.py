"""Session expiry, on a clock the tests move by hand (no sleeping)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from syncd.segments import RuleSet
from syncd.ui.security import Guard
from tests.ui.conftest import ORIGIN, TOKEN, FakeRelease, make_app
from tests.ui.seed import Seeded

TTL = timedelta(minutes=30)
FROM_CONSOLE = {"origin": ORIGIN}


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
    engine: Engine,
    rules: RuleSet,
    release: FakeRelease,
    clock: FakeClock,
    token: str | None,
) -> TestClient:
    app = make_app(engine, rules, release, token, session_ttl=TTL, security_clock=clock)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def timed(
    engine: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded, clock: FakeClock
) -> TestClient:
    """A console with a token, 30-minute sessions and the fake clock."""
    return _app_client(engine, rules, release, clock, TOKEN)


def _login(client: TestClient, token: str = TOKEN) -> int:
    response = client.post("/login", data={"token": token, "next": "/runs"}, headers=FROM_CONSOLE)
    return int(response.status_code)


def _csrf(client: TestClient, run_id: int) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/runs/{run_id}").text)
    assert found is not None
    return found.group(1)


def test_an_expired_session_is_no_session(
    timed: TestClient, clock: FakeClock, seeded: Seeded, release: FakeRelease
) -> None:
    assert _login(timed) == 303
    token = _csrf(timed, seeded.held_run)
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
    engine: Engine,
    rules: RuleSet,
    release: FakeRelease,
    seeded: Seeded,
    clock: FakeClock,
) -> None:
    anon = _app_client(engine, rules, release, clock, None)
    url = f"/runs/{seeded.held_run}/approve"
    old = _csrf(anon, seeded.held_run)
    clock.advance(TTL.total_seconds())
    refused = anon.post(url, data={"csrf_token": old}, headers=FROM_CONSOLE)
    assert refused.status_code == 403 and release.calls == []
    page = anon.get(f"/runs/{seeded.held_run}")
    assert "syncd_session=" in page.headers["set-cookie"]  # a new session
    new = _csrf(anon, seeded.held_run)
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
