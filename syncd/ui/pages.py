"""The HTML pages: runs, one run (with Approve), change log, one contact, segments, login.

Each page calls the same query function as its `/api/` twin and renders it with Jinja2
(autoescaping on: every value from the store, the vendors or the mappings is escaped).
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from syncd.store import history
from syncd.ui import charts, queries
from syncd.ui.api import NoNul, RunId, Search, State, StatusName, approve_run
from syncd.ui.events import search_events
from syncd.ui.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Session,
    client_address,
    safe_next,
    same_secret,
)
from syncd.ui.state import UiState

TEMPLATES = FsPath(__file__).parent / "templates"
STATUSES = ("running", "success", "partial", "failed", "held", "interrupted")
NOTICES = {"approved": "Run released: its plan was applied. Figures below are updated."}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["quote"] = lambda s: quote(str(s), safe="")
env.globals["colour"] = charts.colour
env.globals["total_keys"] = history.TOTAL_KEYS

router = APIRouter(include_in_schema=False)


def _session(request: Request, state: UiState) -> tuple[Session, str | None]:
    """The request's session, or a fresh anonymous one (with the cookie value to set).

    A fresh one is made when there is none or it expired. An anonymous session logs nobody in
    on a console with a token.
    """
    session = state.guard.session_of(request)
    if session is not None:
        return session, None
    cookie = state.guard.new_cookie(authenticated=False)
    fresh = state.guard.read_cookie(cookie)
    assert fresh is not None
    return fresh, cookie


def set_session_cookie(request: Request, state: UiState, response: Response, value: str) -> None:
    """Set the session cookie.

    HttpOnly, SameSite=Strict, Secure over HTTPS, and kept by the browser no longer than the server
    honours it (`ui.session_ttl`).
    """
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=state.guard.ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def render(
    request: Request, state: UiState, name: str, status_code: int = 200, **data: Any
) -> HTMLResponse:
    """Render a template with the page chrome, the CSRF token and a session cookie."""
    session, cookie = _session(request, state)
    html = env.get_template(name).render(
        request=request,
        csrf_token=state.guard.csrf_for(session),
        csrf_field=CSRF_FIELD,
        login_required=state.guard.login_required,
        workspace=state.ctx.workspace,
        **data,
    )
    response = HTMLResponse(html, status_code=status_code)
    if cookie is not None:
        set_session_cookie(request, state, response, cookie)
    return response


@router.get("/")
def home() -> RedirectResponse:
    """The console opens on the run history."""
    return RedirectResponse("/runs", status_code=303)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, state: State, status: StatusName | None = None) -> HTMLResponse:
    """Sync history, newest first, optionally one status only."""
    runs = history.list_runs(state.ctx.db, state.ctx.workspace, status=status, limit=100)
    return render(request, state, "runs.html", runs=runs, status=status, statuses=STATUSES)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, state: State, run_id: RunId, notice: str | None = None
) -> HTMLResponse:
    """One run: changes per target, failures with hints, and the held plan."""
    detail = queries.run_detail(state.ctx, run_id)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return render(request, state, "run.html", notice=NOTICES.get(notice or ""), **detail)


@router.post("/runs/{run_id}/approve", response_model=None)
def approve_page(
    request: Request,
    state: State,
    run_id: RunId,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve button: CSRF-checked, then the same release path as `syncd apply --run`."""
    if not state.guard.csrf_ok(request, csrf_token):
        raise HTTPException(403, "CSRF check failed; reload the page and try again")
    try:
        outcome = approve_run(state, run_id)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        detail = queries.run_detail(state.ctx, run_id) or {}
        return render(request, state, "run.html", 409, error=exc.detail, **detail)
    if outcome["error"]:
        detail = queries.run_detail(state.ctx, run_id) or {}
        return render(request, state, "run.html", error=outcome["error"], **detail)
    return RedirectResponse(f"/runs/{run_id}?notice=approved", status_code=303)


@router.get("/changes", response_class=HTMLResponse)
def changes_page(request: Request, state: State, search: Search) -> HTMLResponse:
    """Change-log search with a CSV link for the same filters."""
    events = search_events(state.ctx, search)
    csv_url = "/api/events.csv?" + urlencode(search.query_items())
    return render(request, state, "changes.html", events=events, search=search, csv_url=csv_url)


@router.get("/contacts", response_model=None)
def contact_lookup(
    request: Request,
    state: State,
    email: Annotated[str, Query(max_length=320, pattern=NoNul)] = "",
) -> Response:
    """The search box: jump to a contact's page."""
    if not email.strip():
        return render(request, state, "contact_missing.html", 200, email="")
    return RedirectResponse(f"/contacts/{quote(email.strip().lower(), safe='@')}", 303)


@router.get("/contacts/{email}", response_class=HTMLResponse)
def contact_page(request: Request, state: State, email: str) -> HTMLResponse:
    """One contact: profile, segments with explain traces, membership history."""
    detail = queries.contact_detail(state.ctx, email) if "\x00" not in email else None
    if detail is None:
        return render(request, state, "contact_missing.html", 404, email=email)
    return render(request, state, "contact.html", contact=detail)


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request, state: State) -> HTMLResponse:
    """Segment sizes over time, coverage, overlap, KPIs and warnings."""
    data = queries.segments_overview(state.ctx)
    keys = [s["key"] for s in data["report"]["segments"]]
    chart = charts.size_chart(data["history"], keys)
    return render(request, state, "segments.html", chart=chart, keys=keys, **data)


# --- login ------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, state: State, next: str = "/") -> Response:
    """The login form (only when a token is configured)."""
    if not state.guard.login_required:
        return RedirectResponse(safe_next(next), 303)
    return render(request, state, "login.html", next=safe_next(next), error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    state: State,
    token: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the token; on success set an HttpOnly, SameSite=Strict session cookie.

    Throttled per client address (see `LoginLimiter`): once the limit is reached every
    attempt gets 429 until the window passes, a right token too, or the answer would still
    tell a guesser which token is right.
    """
    target = safe_next(next)
    if state.guard.token is None:
        return RedirectResponse(target, 303)
    client = client_address(request)
    wait = state.limiter.acquire(client)
    if wait:
        error = f"Too many failed attempts; try again in {wait} s."
        page = render(request, state, "login.html", 429, next=target, error=error)
        page.headers["retry-after"] = str(wait)
        return page
    if not same_secret(token, state.guard.token):
        return render(request, state, "login.html", 401, next=target, error="Wrong token.")
    state.limiter.refund(client)
    done = RedirectResponse(target, 303)
    set_session_cookie(request, state, done, state.guard.new_cookie(authenticated=True))
    return done


@router.post("/logout", response_model=None)
def logout(
    request: Request, state: State, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """End the browser session (CSRF-checked, so a foreign page cannot log you out)."""
    if not state.guard.csrf_ok(request, csrf_token):
        raise HTTPException(403, "CSRF check failed")
    response = RedirectResponse("/login" if state.guard.login_required else "/runs", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
