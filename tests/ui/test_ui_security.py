"""Security of the console: token auth, the session cookie, CSRF on Approve, escaping,
binding rules and response headers.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from syncd.errors import ConfigError
from syncd.ui.security import Guard, check_bind, is_loopback, safe_next
from tests.ui.conftest import ORIGIN, TOKEN, FakeRelease, csrf_token
from tests.ui.seed import XSS, Seeded

BEARER = {"authorization": f"Bearer {TOKEN}"}
FROM_CONSOLE = {"origin": ORIGIN}  # what a browser sends with a form posted from our page


def _login(client: TestClient) -> None:
    response = client.post("/login", data={"token": TOKEN, "next": "/runs"}, headers=FROM_CONSOLE)
    assert response.status_code == 303 and response.headers["location"] == "/runs"


@pytest.mark.parametrize("path", ["/api/runs", "/api/segments", "/api/openapi.json"])
def test_api_needs_the_token_when_one_is_set(locked: TestClient, path: str) -> None:
    response = locked.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert locked.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert locked.get(path, headers={"authorization": f"Basic {TOKEN}"}).status_code == 401
    assert locked.get(path, headers=BEARER).status_code == 200


def test_pages_redirect_to_login_and_back(locked: TestClient, seeded: Seeded) -> None:
    response = locked.get(f"/runs/{seeded.held_run}", params={"notice": "x"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fruns%2F{seeded.held_run}%3Fnotice%3Dx"
    assert "Console token" in locked.get("/login").text
    assert locked.get("/static/syncd.css").status_code == 200  # the login page's style


def test_login_sets_an_httponly_strict_cookie(locked: TestClient) -> None:
    wrong = locked.post("/login", data={"token": "nope"}, headers=FROM_CONSOLE)
    assert wrong.status_code == 401 and "Wrong token" in wrong.text
    assert locked.get("/api/runs").status_code == 401  # whatever cookie it set is no login
    response = locked.post(
        "/login", data={"token": TOKEN, "next": "//evil.example/"}, headers=FROM_CONSOLE
    )
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "syncd_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert locked.get("/runs").status_code == 200


def test_a_forged_or_anonymous_cookie_is_not_a_login(locked: TestClient) -> None:
    locked.cookies.set("syncd_session", "abc.def")
    assert locked.get("/api/runs").status_code == 401
    other = Guard(TOKEN)  # another process: another signing key
    locked.cookies.set("syncd_session", other.new_cookie(authenticated=True))
    assert locked.get("/api/runs").status_code == 401
    state = locked.app.state.ui  # type: ignore[attr-defined]
    locked.cookies.set("syncd_session", state.guard.new_cookie(authenticated=False))
    assert locked.get("/api/runs").status_code == 401


def test_logout_ends_the_session(locked: TestClient, seeded: Seeded) -> None:
    _login(locked)
    token = csrf_token(locked, seeded.held_run)
    response = locked.post("/logout", data={"csrf_token": token}, headers={"origin": ORIGIN})
    assert response.status_code == 303
    locked.cookies.clear()  # the browser drops the deleted cookie
    assert locked.get("/runs").status_code == 303


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, {"origin": ORIGIN}),  # no CSRF token
        ({"csrf_token": "forged"}, {"origin": ORIGIN}),  # wrong token
        (None, {"origin": "http://evil.example"}),  # right token, foreign origin
        (None, {"referer": "http://evil.example/page"}),  # foreign referer, no origin
        (None, {}),  # neither Origin nor Referer
    ],
)
def test_approve_refuses_requests_without_csrf_proof(
    client: TestClient,
    seeded: Seeded,
    release: FakeRelease,
    form: dict[str, str] | None,
    headers: dict[str, str],
) -> None:
    data = form if form is not None else {"csrf_token": csrf_token(client, seeded.held_run)}
    response = client.post(f"/runs/{seeded.held_run}/approve", data=data, headers=headers)
    assert response.status_code == 403
    assert release.calls == []


def test_approve_with_csrf_token_and_same_origin_referer(
    client: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    response = client.post(
        f"/runs/{seeded.held_run}/approve",
        data={"csrf_token": token},
        headers={"referer": f"{ORIGIN}/runs/{seeded.held_run}"},
    )
    assert response.status_code == 303 and release.calls == [seeded.held_run]


def test_csrf_token_of_another_session_is_refused(
    client: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    client.cookies.clear()
    client.get("/runs")  # a new anonymous session
    response = client.post(
        f"/runs/{seeded.held_run}/approve", data={"csrf_token": token}, headers={"origin": ORIGIN}
    )
    assert response.status_code == 403 and release.calls == []


def test_api_approve_needs_csrf_header_unless_bearer(
    locked: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    _login(locked)
    url = f"/api/runs/{seeded.held_run}/approve"
    assert locked.post(url, headers={"origin": ORIGIN}).status_code == 403
    token = csrf_token(locked, seeded.held_run)
    ok = locked.post(url, headers={"origin": ORIGIN, "x-csrf-token": token})
    assert ok.status_code == 200 and ok.json()["status"] == "success"
    locked.cookies.clear()
    again = locked.post(url, headers=BEARER)  # a script: header auth, no cookie
    assert again.status_code == 409 and "not held" in again.json()["detail"]
    assert release.calls == [seeded.held_run, seeded.held_run]


def test_every_value_is_escaped(client: TestClient, seeded: Seeded) -> None:
    pages = [
        client.get("/contacts/evil@example.com").text,
        client.get("/changes").text,
        client.get(f"/runs/{seeded.held_run}").text,
    ]
    for page in pages:
        assert XSS not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script" not in "".join(pages)
    missing = client.get("/contacts/%3Cscript%3Ex")
    assert "<script>" not in missing.text and "&lt;script&gt;x" in missing.text


def test_security_headers_forbid_framing_and_foreign_assets(client: TestClient) -> None:
    headers = client.get("/runs").headers
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_no_login_needed_on_loopback_without_token(client: TestClient) -> None:
    assert client.get("/api/runs").status_code == 200
    assert client.get("/login").headers["location"] == "/"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_off_loopback_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "token")
    with pytest.raises(ConfigError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError):
        check_bind("10.1.2.3", "")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/"),
        ("/runs/3", "/runs/3"),
        ("//evil.example", "/"),
        ("https://evil", "/"),
        ("/\\evil", "/"),
        ("runs", "/"),
    ],
)
def test_login_redirect_stays_on_this_server(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
