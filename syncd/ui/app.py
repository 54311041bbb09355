"""`create_app`: the console as one FastAPI app, wired to a store, rules and a release path.

The lead's `syncd ui` and `syncd run` (with `ui.enabled`) build it with the real engine and
pass `Syncer.release` as `approve`, so the Approve button and `syncd apply --run` share
one code path. Security is three middlewares in front of every route, so no route can
forget it; from the outside in: the security headers, the Host check (Starlette's
`TrustedHostMiddleware`), then `gatekeeper` (token throttling, the Origin rule for
state-changing requests, authentication).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from syncd import __version__
from syncd.segments import RuleSet
from syncd.store.types import utcnow
from syncd.ui import api, pages
from syncd.ui.links import ExternalLinks
from syncd.ui.queries import Context
from syncd.ui.security import (
    DEFAULT_SESSION_TTL,
    AllowedHosts,
    Clock,
    Guard,
    LoginLimiter,
    client_address,
    split_authority,
)
from syncd.ui.state import Approve, Reject, UiState

STATIC = Path(__file__).parent / "static"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Next = Callable[[Request], Awaitable[Response]]

#: Sent with every answer: no framing, no sniffing, no referrer leaks, only our own assets.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def create_app(
    db: Engine,
    workspace: str,
    rules: RuleSet,
    *,
    token: str | None,
    approve: Approve | None,
    clock: Callable[[], datetime] = utcnow,
    allowed_hosts: Sequence[str] = (),
    bind_hosts: Sequence[str] = (),
    session_ttl: timedelta = DEFAULT_SESSION_TTL,
    security_clock: Clock = time.time,
    read_only: str | None = None,
    links: ExternalLinks | None = None,
    reject: Reject | None = None,
) -> FastAPI:
    """Build the console app.

    Args:
        db: The migrated store (SQLite or PostgreSQL).
        workspace: Whose data to show.
        rules: The loaded mappings (explain traces and segment analytics).
        token: `ui.token`; None turns login off (only safe on loopback, which `serve` enforces).
        approve: Releases a held run by id; the same path as `syncd apply --run`
            (`Syncer.release`). It may raise `ConfigError` for a run it cannot release
            and `LeaseBusyError` when another process holds the workspace's apply lease.
            None makes the console read-only: Approve is shown disabled with `read_only`.
        clock: Time source for date filters, explain traces and analytics.
        allowed_hosts: `ui.allowed_hosts`: the only names the console answers to. Empty
            means the loopback names plus `bind_hosts`.
        bind_hosts: The configured `ui.host` and the address actually bound.
        session_ttl: `ui.session_ttl`: how long a session cookie is valid after issue.
        security_clock: Seconds since the epoch, for session expiry and login throttling.
        read_only: Why actions that need a connector are off (shown next to them); only
            used when `approve` is None.
        links: What vendor links can be built (HubSpot portal id, Mailchimp data centre).
        reject: Rejects the held plan of a run by id (`Syncer.reject`); None hides Reject.

    Returns:
        A FastAPI app; its JSON API's schema is at `/api/openapi.json`.

    Raises:
        ConfigError: An allowed host is not a host name.
    """
    app = FastAPI(
        title="syncd console API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    hosts = AllowedHosts.resolve(allowed_hosts, bind_hosts)
    guard = Guard(token, hosts=hosts, ttl=session_ttl, now=security_clock)
    limiter = LoginLimiter(now=security_clock)
    if approve is None:
        read_only = read_only or "no connector is configured, so this console only reads"
    else:
        read_only = None
    ctx = Context(db, workspace, rules, clock, links or ExternalLinks())
    app.state.ui = UiState(ctx, guard, approve, limiter, read_only, reject)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    if token is None:
        _drop_security_from_schema(app)

    # Starlette runs the middleware added last first.
    app.middleware("http")(gatekeeper(guard, limiter))
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts.patterns, www_redirect=False)
    app.middleware("http")(add_security_headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return refusal(request, guard, exc.status_code, str(exc.detail), exc.headers)

    return app


async def add_security_headers(request: Request, call_next: Next) -> Response:
    """Put `SECURITY_HEADERS` on every answer, refusals included."""
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def gatekeeper(
    guard: Guard, limiter: LoginLimiter
) -> Callable[[Request, Next], Awaitable[Response]]:
    """The middleware that decides whether a request (its Host already checked) may go on.

    A Bearer token is throttled like a login and, when right, lets the call through: no
    browser sends one by itself, so it needs no Origin. Any other state-changing request
    must name this server in Origin/Referer. Only the login form and the static files are
    open without authentication.
    """

    async def check(request: Request, call_next: Next) -> Response:
        if guard.presents_bearer(request):
            return await with_bearer(request, call_next, guard, limiter)
        if request.method not in SAFE_METHODS and not guard.origin_ok(request):
            detail = "request refused: it must come from this console's own page (Origin)"
            return refusal(request, guard, 403, detail)
        path = request.url.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await call_next(request)
        if guard.is_authenticated(request):
            return await call_next(request)
        if path.startswith("/api/"):
            return unauthenticated(request, guard)
        return RedirectResponse(f"/login?next={quote(return_to(request), safe='')}", 303)

    return check


async def with_bearer(
    request: Request, call_next: Next, guard: Guard, limiter: LoginLimiter
) -> Response:
    """A request with `Authorization: Bearer`: 429 while throttled, 401 if wrong, else on."""
    client = client_address(request)
    wait = limiter.acquire(client)
    if wait:
        return too_many_attempts(request, guard, wait)
    if not guard.bearer_ok(request):
        return unauthenticated(request, guard)
    limiter.refund(client)
    return await call_next(request)


def unauthenticated(request: Request, guard: Guard) -> Response:
    """401 with the `WWW-Authenticate` challenge."""
    detail = "authentication required: Authorization: Bearer <ui.token>"
    return refusal(request, guard, 401, detail, {"www-authenticate": "Bearer"})


def return_to(request: Request) -> str:
    """Where to go after logging in: this page, or for a form post the page it came from."""
    if request.method in SAFE_METHODS:
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    own = split_authority(request.headers.get("host", ""))
    if referer.path and split_authority(referer.netloc) == own:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def too_many_attempts(request: Request, guard: Guard, wait: int) -> Response:
    """429 with `Retry-After`: too many wrong tokens from this address (or from everyone)."""
    detail = f"too many failed login attempts; try again in {wait} s"
    return refusal(request, guard, 429, detail, {"retry-after": str(wait)})


def refusal(
    request: Request,
    guard: Guard,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error answer: JSON `{"detail"}` under `/api/`, the error page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    html = pages.env.get_template("error.html").render(
        status=status, detail=detail, login_required=guard.login_required
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _drop_security_from_schema(app: FastAPI) -> None:
    """Drop Bearer auth (and its 401 and 429 answers) from the schema.

    Without a token nothing is checked, so the schema must not promise it.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.pop("security", None)
                for status in ("401", "429"):
                    operation.get("responses", {}).pop(status, None)
        schema.get("components", {}).pop("securitySchemes", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
