"""The HTML pages: runs, one run (with Approve), change log, contacts, segments, login.

Each page calls the same query function as its `/api/` twin and renders it with Jinja2
(autoescaping on: every value from the store, the vendors or the mappings is escaped). Times
read "3 min ago" with the exact time on hover, and figures are rounded (`syncd.ui.humanize`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from syncd.store import held, history
from syncd.ui import charts, humanize, queries
from syncd.ui.api import NoNul, Offset, RunId, Runs, Search, State, approve_run, reject_run
from syncd.ui.contacts import search_contacts
from syncd.ui.events import count_events, search_events
from syncd.ui.run_charts import run_charts
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
TRIGGERS = ("schedule", "manual", "reconcile", "undo")
#: Runs drawn in the runs page's charts: the newest that match the filters.
CHART_RUNS = 120
#: Rows per page of the change log and the contacts search.
PAGE_SIZE = 100
NOTICES = {
    "approved": "Run released: its plan was applied. Figures below are updated.",
    "rejected": "Held plan rejected: nothing was written; the next run plans these targets again.",
}
#: The two decisions on a held plan, as the confirmation page words them.
DECISIONS = {"approve": "Approve and apply", "reject": "Reject"}

#: Figures that are changes (planned or made, failed included); skipping an unsubscribed
#: member is not one, so a run with only skips "changed nothing".
CHANGE_FIGURES = tuple(k for k in history.TOTAL_KEYS if k != "skipped_consent")


def changed_rows(totals: dict[str, int]) -> int:
    """How many changes a run planned or made, by its `totals`."""
    return sum(int(totals.get(k, 0)) for k in CHANGE_FIGURES)


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["quote"] = lambda s: quote(str(s), safe="")
env.globals["colour"] = charts.colour
env.globals["total_keys"] = history.TOTAL_KEYS
env.filters["absolute"] = humanize.absolute
env.filters["duration"] = humanize.duration
env.filters["number"] = humanize.number
env.filters["percent"] = humanize.percent
env.filters["readable"] = humanize.readable
env.globals["ago"] = humanize.ago
env.globals["changed"] = changed_rows

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
        now=state.ctx.clock(),
        read_only=state.read_only,
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
def runs_page(request: Request, state: State, search: Runs) -> HTMLResponse:
    """Sync history, newest first: charts, filters by status, trigger and date, and paging."""
    ctx = state.ctx
    filters = search.store_filter()
    runs = history.search_runs(ctx.db, ctx.workspace, filters)
    total = history.count_runs_matching(ctx.db, ctx.workspace, filters)
    drawn = replace(filters, limit=CHART_RUNS, offset=0)
    charted = list(reversed(history.search_runs(ctx.db, ctx.workspace, drawn, failures=0)))
    with ctx.db.connect() as conn:
        waiting = held.waiting_targets(conn, ctx.workspace)
    return render(
        request, state, "runs.html", waiting=waiting,
        runs=runs, total=total, search=search, statuses=STATUSES, triggers=TRIGGERS,
        status=search.status, charts=run_charts(charted) if charted else None,
        charted=len(charted), pager=pager("/runs", search.query_items(), search.offset,
                                          search.limit, len(runs), total),
    )  # fmt: skip


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, state: State, run_id: RunId, notice: str | None = None, offset: Offset = 0
) -> HTMLResponse:
    """One run: changes per target, failures with hints, the held plan, its change log paged."""
    detail = queries.run_detail(state.ctx, run_id, offset=offset)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return render(request, state, "run.html", notice=NOTICES.get(notice or ""),
                  **run_context(state, detail))  # fmt: skip


def run_context(state: UiState, detail: dict[str, Any]) -> dict[str, Any]:
    """A run page's data: the run's detail, its events with vendor links, and their pager."""
    run_id = detail["run"]["id"]
    queries.with_links(state.ctx, detail["events"])
    events_pager = pager(f"/runs/{run_id}", [], detail["events_offset"], queries.RUN_EVENTS,
                         len(detail["events"]), detail["events_total"])  # fmt: skip
    return {**detail, "pager": events_pager}


def pager(
    path: str, items: list[tuple[str, str]], offset: int, limit: int, shown: int, total: int
) -> dict[str, Any]:
    """The "showing a to b of N" line and the links to the newer and older pages of a listing."""

    def link(at: int) -> str:
        pairs = [*items, *([("offset", str(at))] if at else [])]
        return path + (f"?{urlencode(pairs)}" if pairs else "")

    return {
        "first": offset + 1 if shown else 0,
        "last": offset + shown,
        "total": total,
        "newer": link(max(0, offset - limit)) if offset > 0 else None,
        "older": link(offset + limit) if offset + shown < total else None,
    }


@router.get("/runs/{run_id}/confirm", response_class=HTMLResponse)
def confirm_page(
    request: Request,
    state: State,
    run_id: RunId,
    action: Annotated[Literal["approve", "reject"], Query()] = "approve",
) -> HTMLResponse:
    """The confirmation step of Approve and Reject: what will happen, counts repeated."""
    detail = queries.run_detail(state.ctx, run_id)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    if detail["plan"] is None or not detail["plan"]["pending"]:
        raise HTTPException(409, f"nothing of run {run_id} waits for a decision")
    return render(request, state, "confirm.html", action=action, verb=DECISIONS[action],
                  **run_context(state, detail))  # fmt: skip


@router.post("/runs/{run_id}/reject", response_model=None)
def reject_page(
    request: Request,
    state: State,
    run_id: RunId,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Reject button (on the confirmation page): the same path as `syncd reject --run`."""
    if not state.guard.csrf_ok(request, csrf_token):
        raise HTTPException(403, "CSRF check failed; reload the page and try again")
    try:
        reject_run(state, run_id)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        detail = queries.run_detail(state.ctx, run_id)
        context = run_context(state, detail) if detail else {}
        return render(request, state, "run.html", 409, error=exc.detail, **context)
    return RedirectResponse(f"/runs/{run_id}?notice=rejected", status_code=303)


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
        detail = queries.run_detail(state.ctx, run_id)
        context = run_context(state, detail) if detail else {}
        return render(request, state, "run.html", 409, error=exc.detail, **context)
    if outcome["error"]:
        detail = queries.run_detail(state.ctx, run_id)
        context = run_context(state, detail) if detail else {}
        return render(request, state, "run.html", error=outcome["error"], **context)
    return RedirectResponse(f"/runs/{run_id}?notice=approved", status_code=303)


@router.get("/changes", response_class=HTMLResponse)
def changes_page(request: Request, state: State, search: Search) -> HTMLResponse:
    """Change-log search: filters, "showing a to b of N", paging and a CSV of every match."""
    if "limit" not in request.query_params:
        search = replace(search, limit=PAGE_SIZE)
    events = queries.with_links(state.ctx, search_events(state.ctx, search))
    total = count_events(state.ctx, search)
    items = search.query_items()
    csv_url = "/api/events.csv" + (f"?{urlencode(items)}" if items else "")
    ctx = state.ctx
    choices = {
        "outcome": history.EVENT_OUTCOMES,
        "action": history.EVENT_ACTIONS,
        "segment": history.event_choices(ctx.db, ctx.workspace, "segment"),
        "target": history.target_choices(ctx.db, ctx.workspace),
    }
    return render(
        request, state, "changes.html",
        events=events, search=search, csv_url=csv_url, total=total, choices=choices,
        pager=pager("/changes", items, search.offset, search.limit, len(events), total),
    )  # fmt: skip


@router.get("/contacts", response_model=None)
def contacts_page(
    request: Request,
    state: State,
    q: Annotated[str, Query(max_length=320, pattern=NoNul)] = "",
    email: Annotated[str, Query(max_length=320, pattern=NoNul)] = "",
    offset: Offset = 0,
) -> Response:
    """The contacts search: part of an email or a name; `?email=` opens one contact."""
    if email.strip() and not q.strip():
        return RedirectResponse(f"/contacts/{quote(email.strip().lower(), safe='@')}", 303)
    found = search_contacts(state.ctx, q, limit=PAGE_SIZE, offset=offset)
    for row in found.rows:
        row["hubspot_url"] = state.ctx.links.hubspot_contact(row["hubspot_id"])
        row["mailchimp_url"] = state.ctx.links.mailchimp_member(row["mailchimp_contact_id"])
    items = [("q", q)] if q.strip() else []
    return render(
        request, state, "contacts.html",
        q=q, contacts=found.rows, total=found.total,
        pager=pager("/contacts", items, offset, PAGE_SIZE, len(found.rows), found.total),
    )  # fmt: skip


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
