"""The console answers only to its own names, so DNS rebinding cannot reach it, and a
state-changing request must come from its own origin (Origin, or else Referer).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from syncd.config import Settings, UiSettings
from syncd.errors import ConfigError
from syncd.segments import RuleSet
from syncd.ui import console_for
from syncd.ui.security import AllowedHosts
from tests.ui.conftest import ORIGIN, TOKEN, FakeRelease, csrf_token, make_app
from tests.ui.seed import WS, Seeded

PORT = 8686
LOOPBACK = f"http://127.0.0.1:{PORT}"
EVIL_HOST = f"evil.example:{PORT}"


def _console(
    db: Engine,
    rules: RuleSet,
    release: FakeRelease,
    base_url: str,
    token: str | None = None,
    **options: Any,
) -> TestClient:
    app = make_app(db, rules, release, token, **options)
    return TestClient(app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def default_console(db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded) -> TestClient:
    """The console as `syncd ui` starts it out of the box: loopback, no token, no
    `ui.allowed_hosts`.
    """
    return _console(db, rules, release, LOOPBACK, allowed_hosts=[], bind_hosts=["127.0.0.1"])


def test_dns_rebinding_replay_is_refused(
    default_console: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    # A page of evil.example:8686, whose name now resolves to 127.0.0.1, reads the console ...
    reads = [f"/runs/{seeded.held_run}", "/changes", f"/contacts/{seeded.alice}", "/api/runs"]
    for path in reads:
        response = default_console.get(path, headers={"host": EVIL_HOST})
        assert response.status_code == 400, path
        assert response.text == "Invalid host header"
        assert "csrf_token" not in response.text and "@example.com" not in response.text
        assert "set-cookie" not in response.headers
    # ... and posts Approve, even holding a real session and its CSRF token.
    token = csrf_token(default_console, seeded.held_run)
    attack = {"host": EVIL_HOST, "origin": f"http://{EVIL_HOST}"}
    page = default_console.post(
        f"/runs/{seeded.held_run}/approve", data={"csrf_token": token}, headers=attack
    )
    api = default_console.post(
        f"/api/runs/{seeded.held_run}/approve", headers={**attack, "x-csrf-token": token}
    )
    assert page.status_code == api.status_code == 400
    assert release.calls == []
    # The console's own page still works.
    ok = default_console.post(
        f"/runs/{seeded.held_run}/approve", data={"csrf_token": token}, headers={"origin": LOOPBACK}
    )
    assert ok.status_code == 303 and release.calls == [seeded.held_run]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        (f"127.0.0.1:{PORT}", 200),
        (f"localhost:{PORT}", 200),
        ("LocalHost", 200),
        (f"[::1]:{PORT}", 200),
        ("testserver", 400),
        (EVIL_HOST, 400),
        ("localhost.evil.example", 400),
        ("127.0.0.1.nip.io", 400),
        ("", 400),
        ("127.0.0.1:port", 400),
    ],
)
def test_default_allowed_hosts_are_the_loopback_names(
    default_console: TestClient, host: str, status: int
) -> None:
    assert default_console.get("/runs", headers={"host": host}).status_code == status


def test_the_bound_host_is_allowed_and_a_configured_list_replaces_the_default(
    db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded
) -> None:
    bound = _console(db, rules, release, LOOPBACK, allowed_hosts=[], bind_hosts=["10.1.2.3"])
    assert bound.get("/runs", headers={"host": f"10.1.2.3:{PORT}"}).status_code == 200
    assert bound.get("/runs", headers={"host": "10.1.2.4"}).status_code == 400
    listed = _console(
        db, rules, release, "http://console.example.com", allowed_hosts=["console.example.com"]
    )
    assert listed.get("/runs").status_code == 200
    assert listed.get("/runs", headers={"host": "127.0.0.1"}).status_code == 400


def test_a_refused_host_gets_a_short_plain_answer_with_the_security_headers(
    default_console: TestClient,
) -> None:
    response = default_console.get("/static/syncd.css", headers={"host": EVIL_HOST})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_post_without_origin_or_referer_is_refused(
    client: TestClient, locked: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    held = seeded.held_run
    for headers in ({}, {"origin": "null"}, {"origin": ""}, {"referer": ""}):
        refused = [
            client.post(f"/runs/{held}/approve", data={"csrf_token": token}, headers=headers),
            client.post(f"/api/runs/{held}/approve", headers={**headers, "x-csrf-token": token}),
            client.post("/logout", data={"csrf_token": token}, headers=headers),
            locked.post("/login", data={"token": TOKEN}, headers=headers),
        ]
        assert [r.status_code for r in refused] == [403] * 4, headers
        assert "own page" in refused[0].text and "own page" in refused[1].json()["detail"]
    assert release.calls == []
    assert "set-cookie" not in refused[3].headers  # no login happened


def test_origin_of_another_allowed_host_or_port_is_refused(
    db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded
) -> None:
    two = _console(db, rules, release, ORIGIN, allowed_hosts=["testserver", "localhost"])
    token = csrf_token(two, seeded.held_run)
    url = f"/runs/{seeded.held_run}/approve"
    for headers in (
        {"origin": "http://localhost"},  # allowed, but not the host asked
        {"referer": "http://localhost/runs"},
        {"origin": "http://testserver:3000"},  # this host, another port: another origin
        {"origin": "ftp://testserver"},
        {"origin": "http://testserver", "host": "localhost"},
    ):
        response = two.post(url, data={"csrf_token": token}, headers=headers)
        assert response.status_code == 403, headers
    assert release.calls == []
    ok = two.post(url, data={"csrf_token": token}, headers={"origin": "http://TestServer"})
    assert ok.status_code == 303 and release.calls == [seeded.held_run]


def test_a_wildcard_allows_every_name_under_a_domain(
    db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded
) -> None:
    base = "http://console.corp.example:8443"
    corp = _console(db, rules, release, base, allowed_hosts=["*.corp.example"], token=TOKEN)
    assert corp.get("/runs").status_code == 303  # answered: to the login form
    assert corp.get("/login", headers={"host": "CONSOLE.Corp.Example"}).status_code == 200
    for host in ("corp.example", "evilcorp.example", "console.corp.example.evil"):
        assert corp.get("/login", headers={"host": host}).status_code == 400, host
    other = {"origin": "http://other.corp.example:8443"}  # allowed name, not this one
    assert corp.post("/login", data={"token": TOKEN}, headers=other).status_code == 403
    login = corp.post("/login", data={"token": TOKEN}, headers={"origin": base})
    assert login.status_code == 303
    token = csrf_token(corp, seeded.held_run)
    approved = corp.post(
        f"/runs/{seeded.held_run}/approve", data={"csrf_token": token}, headers={"origin": base}
    )
    assert approved.status_code == 303 and release.calls == [seeded.held_run]


def test_allowed_hosts_resolution() -> None:
    assert AllowedHosts.resolve([]).names == ("127.0.0.1", "localhost", "::1")
    bound = AllowedHosts.resolve([], ["127.0.0.1", "Box.LAN", "0:0::1", "not a host"])
    assert bound.names == ("127.0.0.1", "localhost", "::1", "box.lan")
    listed = AllowedHosts.resolve(["*.Corp.Example", "[::1]"], ["box.lan"])
    assert listed.names == ("*.corp.example", "::1")
    assert listed.patterns == ["*.corp.example", "[::1]"]
    assert listed.allows("A.CORP.example") and listed.allows("[::1]")
    assert not listed.allows("corp.example") and not listed.allows("box.lan")
    with pytest.raises(ConfigError, match=r"ui\.allowed_hosts: 'http://x' is not a host name"):
        AllowedHosts.resolve(["http://x"])


def test_console_app_wires_allowed_hosts_session_ttl_and_the_bound_host(
    db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded
) -> None:
    def runtime(ui: UiSettings) -> Any:
        settings = Settings(workspace=WS, ui=ui)
        return SimpleNamespace(
            settings=settings,
            db=db,
            rules=rules,
            syncer=SimpleNamespace(release=release),
        )

    app, token = console_for(runtime(UiSettings(session_ttl="5m")), "10.0.0.5")
    assert token is None
    bound = TestClient(app, base_url=f"http://10.0.0.5:{PORT}", follow_redirects=False)
    page = bound.get("/runs")
    assert page.status_code == 200 and "max-age=300" in page.headers["set-cookie"].lower()
    assert bound.get("/runs", headers={"host": "127.0.0.1"}).status_code == 200  # ui.host
    assert bound.get("/runs", headers={"host": EVIL_HOST}).status_code == 400
    listed = UiSettings(allowed_hosts=["console.example.com"], token="t0ken")
    app, _ = console_for(runtime(listed), "10.0.0.5")
    only = TestClient(app, base_url="http://console.example.com", follow_redirects=False)
    assert only.get("/login").status_code == 200
    assert only.get("/login", headers={"host": "10.0.0.5"}).status_code == 400
