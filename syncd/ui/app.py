"""`create_app`: the console as one FastAPI app, wired to a store, rules and a release path.

The lead's `syncd ui` and `syncd run` (with `ui.enabled`) build it with the real engine and
pass `SyncEngine.release` as `approve`, so the Approve button and `syncd apply --run` share
one code path. Authentication is one middleware in front of every route except the login
form and the static files, so no route can forget it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from syncd import __version__
from syncd.segments import RuleSet
from syncd.store.types import utcnow
from syncd.ui import api, pages
from syncd.ui.queries import Context
from syncd.ui.security import Guard
from syncd.ui.state import Approve, UiState

STATIC = Path(__file__).parent / "static"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login"})

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
    engine: Engine,
    workspace: str,
    rules: RuleSet,
    *,
    token: str | None,
    approve: Approve,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """Build the console app.

    Args:
        engine: The migrated store (SQLite or PostgreSQL).
        workspace: Whose data to show.
        rules: The loaded mappings (explain traces and segment analytics).
        token: `ui.token`; None turns login off (only safe on loopback, which `serve` enforces).
        approve: Releases a held run by id; the same path as `syncd apply --run`
            (`SyncEngine.release`). It may raise `ConfigError` for a run it cannot release.
        clock: Time source for date filters, explain traces and analytics.

    Returns:
        A FastAPI app; its JSON API's schema is at `/api/openapi.json`.
    """
    app = FastAPI(
        title="syncd console API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    guard = Guard(token)
    app.state.ui = UiState(Context(engine, workspace, rules, clock), guard, approve)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    if token is None:
        _drop_security_from_schema(app)

    @app.middleware("http")
    async def authenticate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if public or guard.is_authenticated(request):
            response = await call_next(request)
        elif path.startswith("/api/"):
            response = JSONResponse(
                {"detail": "authentication required: Authorization: Bearer <ui.token>"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        else:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        html = pages.env.get_template("error.html").render(
            status=exc.status_code, detail=exc.detail, login_required=guard.login_required
        )
        return HTMLResponse(html, status_code=exc.status_code)

    return app


def _drop_security_from_schema(app: FastAPI) -> None:
    """Without a token nothing is checked, so the schema must not promise Bearer auth."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.pop("security", None)
        schema.get("components", {}).pop("securitySchemes", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
