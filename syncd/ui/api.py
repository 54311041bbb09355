"""The JSON API under `/api/`: the same data the pages show, for scripts and tests.

Its OpenAPI schema is served at `/api/openapi.json`. Reads need the same authentication as
the pages; approving a held run also needs CSRF proof unless the call authenticates with
`Authorization: Bearer` (see `syncd.ui.security`).
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer

from syncd.errors import ConfigError
from syncd.store import history
from syncd.store.lease import LeaseBusyError
from syncd.ui import models, queries
from syncd.ui.events import EventSearch, search_events
from syncd.ui.state import UiState, ui_state

#: Documents the Bearer scheme in the schema; the check itself is the app's middleware.
bearer = HTTPBearer(auto_error=False, description="ui.token; not needed on loopback without one")

#: Answers of the app's middleware, possible on every operation when a token is set.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Problem, "description": "missing or wrong Bearer token"},
    429: {
        "model": models.Problem,
        "description": "too many failed token attempts from this address; see Retry-After",
        "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    },
}

router = APIRouter(
    prefix="/api", tags=["api"], dependencies=[Depends(bearer)], responses=AUTH_ERRORS
)

State = Annotated[UiState, Depends(ui_state)]
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NoNul = r"^[^\x00]*$"
Text = Annotated[str | None, Query(max_length=320, pattern=NoNul)]
StatusName = Literal["running", "success", "partial", "failed", "held", "interrupted"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": models.Problem}}


def event_search(
    contact: Text = None,
    segment: Text = None,
    target: Text = None,
    run_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    outcome: Text = None,
    action: Text = None,
    start: Annotated[date | None, Query(description="first UTC day, inclusive")] = None,
    end: Annotated[date | None, Query(description="last UTC day, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> EventSearch:
    """The change-log filters of a request (shared by the page, JSON and CSV routes)."""
    return EventSearch(contact, segment, target, run_id, outcome, action, start, end, limit)


Search = Annotated[EventSearch, Depends(event_search)]


@router.get("/runs", response_model=list[models.Run], summary="Runs, newest first")
def api_runs(
    state: State,
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Runs with their figures, failures and hints."""
    return history.list_runs(state.ctx.db, state.ctx.workspace, status=status, limit=limit)


@router.get("/runs/{run_id}", response_model=models.RunDetail, responses=NOT_FOUND)
def api_run(state: State, run_id: RunId) -> dict[str, Any]:
    """One run, its latest change-log rows and, when held, its stored plan."""
    detail = queries.run_detail(state.ctx, run_id)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return detail


@router.post(
    "/runs/{run_id}/approve",
    response_model=models.ApproveResult,
    responses={
        403: {"model": models.Problem, "description": "missing or wrong CSRF proof"},
        404: {"model": models.Problem},
        409: {
            "model": models.Problem,
            "description": (
                "not held, or superseded; or another process holds the workspace's apply "
                "lease and nothing was written (try again when it has finished)"
            ),
        },
    },
)
def api_approve(
    request: Request,
    state: State,
    run_id: RunId,
    x_csrf_token: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Release a held run: the same path as `syncd apply --run ID`."""
    if not state.guard.csrf_ok(request, x_csrf_token):
        raise HTTPException(403, "CSRF check failed: send X-CSRF-Token from this console")
    return approve_run(state, run_id)


def approve_run(state: UiState, run_id: int) -> dict[str, Any]:
    """Call the approve path and shape its outcome.

    Raises:
        HTTPException: 404 for an unknown run; 409 for a run it cannot release, or when
            another process held the apply lease for longer than the release would wait.
    """
    if queries.get_run(state.ctx, run_id) is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    try:
        outcome = state.approve(run_id)
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    except LeaseBusyError as exc:
        raise HTTPException(409, lease_busy_detail(exc)) from None
    return {
        "run_id": run_id,
        "status": str(outcome.status),
        "exit_code": outcome.exit_code,
        "error": outcome.error,
    }


def lease_busy_detail(exc: LeaseBusyError) -> str:
    """What to tell an admin whose Approve met another writer.

    Who, until when, and that nothing was written.
    """
    after = "nothing was written; try again when it has finished"
    if exc.current is None:
        return f"another process holds this workspace's apply lease; {after}"
    until = exc.current.expires_at
    until = until.replace(tzinfo=UTC) if until.tzinfo is None else until.astimezone(UTC)
    return (
        f"another process is applying changes: waiting for {exc.current.holder} "
        f"(lease until {until:%H:%M:%S} UTC); {after}"
    )


@router.get("/events", response_model=list[models.Event], summary="Change-log search")
def api_events(state: State, search: Search) -> list[dict[str, Any]]:
    """Audit events matching the filters, newest first."""
    return search_events(state.ctx, search)


@router.get(
    "/events.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def api_events_csv(state: State, search: Search) -> Response:
    """The same search as CSV (spreadsheet-safe cells), as a download."""
    body = history.events_to_csv(search_events(state.ctx, search))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="syncd-changes.csv"'},
    )


@router.get("/contacts/{email}", response_model=models.ContactDetail, responses=NOT_FOUND)
def api_contact(
    state: State, email: Annotated[str, Path(max_length=320, pattern=NoNul)]
) -> dict[str, Any]:
    """One contact with profile, explain trace and membership history."""
    detail = queries.contact_detail(state.ctx, email)
    if detail is None:
        raise HTTPException(404, "no contact with that email")
    return detail


@router.get("/segments", response_model=models.Segments)
def api_segments(state: State) -> dict[str, Any]:
    """Sizes, coverage, overlap, KPIs, warnings now, and sizes per run over time."""
    return queries.segments_overview(state.ctx)
