"""The JSON API under `/api/`: the same data the pages show, for scripts and tests.

Its OpenAPI schema is served at `/api/openapi.json`. Reads need the same authentication as
the pages; approving a held run also needs CSRF proof unless the call authenticates with
`Authorization: Bearer` (see `syncd.ui.security`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BeforeValidator, Field

from syncd.errors import ConfigError
from syncd.store import history
from syncd.store.lease import LeaseBusyError
from syncd.ui import models, queries
from syncd.ui.contacts import search_contacts
from syncd.ui.events import EventSearch, count_events, export_csv, search_events
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
TriggerName = Literal["schedule", "manual", "reconcile", "undo"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": models.Problem}}
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="rows skipped, for paging")]


def _blank_is_none(value: Any) -> Any:
    """An empty form field (`?start=&status=`) means "no filter", not a bad value."""
    return None if value == "" else value


#: Applied to every optional filter, so a form submitted with empty fields is not a 422.
Blank = BeforeValidator(_blank_is_none)
Day = Annotated[date | None, Blank, Query(description="a UTC day, inclusive")]
RunNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
#: Response header with the number of matching rows in all (the "of M" of a page).
TOTAL_HEADER = "X-Total-Count"


def event_search(
    contact: Text = None,
    segment: Text = None,
    target: Text = None,
    run_id: Annotated[RunNumber | None, Blank, Query()] = None,
    outcome: Text = None,
    action: Text = None,
    start: Annotated[date | None, Blank, Query(description="first UTC day, inclusive")] = None,
    end: Annotated[date | None, Blank, Query(description="last UTC day, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    offset: Offset = 0,
) -> EventSearch:
    """The change-log filters of a request (shared by the page, JSON and CSV routes)."""
    return EventSearch(contact, segment, target, run_id, outcome, action, start, end, limit, offset)


Search = Annotated[EventSearch, Depends(event_search)]


@dataclass(frozen=True)
class RunSearch:
    """The run-history filters of a request; `start` and `end` are UTC days, inclusive."""

    status: StatusName | None = None
    trigger: TriggerName | None = None
    start: date | None = None
    end: date | None = None
    limit: int = 50
    offset: int = 0

    def store_filter(self) -> history.RunFilter:
        """The store's filter for this search."""
        since = datetime.combine(self.start, time.min, tzinfo=UTC) if self.start else None
        until = (
            datetime.combine(self.end, time.min, tzinfo=UTC) + timedelta(days=1)
            if self.end
            else None
        )
        return history.RunFilter(self.status, self.trigger, since, until, self.limit, self.offset)

    def query_items(self) -> list[tuple[str, str]]:
        """The filters as URL query pairs (for paging links; no limit or offset)."""
        names = ("status", "trigger", "start", "end")
        return [(n, str(getattr(self, n))) for n in names if getattr(self, n) not in (None, "")]


def run_search(
    status: Annotated[StatusName | None, Blank, Query()] = None,
    trigger: Annotated[TriggerName | None, Blank, Query()] = None,
    start: Day = None,
    end: Day = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> RunSearch:
    """The run-history filters of a request (shared by the page and the JSON route)."""
    return RunSearch(status, trigger, start, end, limit, offset)


Runs = Annotated[RunSearch, Depends(run_search)]


@router.get("/runs", response_model=list[models.Run], summary="Runs, newest first")
def api_runs(state: State, search: Runs, response: Response) -> list[dict[str, Any]]:
    """Runs with their figures, failures and hints; `X-Total-Count` says how many match."""
    filters = search.store_filter()
    response.headers[TOTAL_HEADER] = str(
        history.count_runs_matching(state.ctx.db, state.ctx.workspace, filters)
    )
    return history.search_runs(state.ctx.db, state.ctx.workspace, filters)


@router.get("/runs/{run_id}", response_model=models.RunDetail, responses=NOT_FOUND)
def api_run(
    state: State,
    run_id: RunId,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = queries.RUN_EVENTS,
) -> dict[str, Any]:
    """One run, a page of its change-log rows (with their total) and, when held, its plan."""
    detail = queries.run_detail(state.ctx, run_id, offset=offset, limit=limit)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return detail


def _decision_answers(conflict: str) -> dict[int | str, dict[str, Any]]:
    """The error answers Approve and Reject document: CSRF, unknown run, and `conflict`."""
    return {
        403: {"model": models.Problem, "description": "missing or wrong CSRF proof"},
        404: {"model": models.Problem},
        409: {"model": models.Problem, "description": conflict},
    }


@router.post(
    "/runs/{run_id}/approve",
    response_model=models.ApproveResult,
    responses=_decision_answers(
        "nothing of the run waits for a decision; or another process holds the workspace's "
        "apply lease and nothing was written (try again when it has finished)"
    ),
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


@router.post(
    "/runs/{run_id}/reject",
    response_model=models.RejectResult,
    responses=_decision_answers(
        "nothing of the run waits for a decision; or another process holds the workspace's "
        "apply lease and nothing was changed"
    ),
)
def api_reject(
    request: Request,
    state: State,
    run_id: RunId,
    x_csrf_token: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Discard a run's held plan: the same path as `syncd reject --run ID`."""
    if not state.guard.csrf_ok(request, x_csrf_token):
        raise HTTPException(403, "CSRF check failed: send X-CSRF-Token from this console")
    return reject_run(state, run_id)


#: What a decision path returns (the release's result, or the holds rejected).
T = TypeVar("T")


def reject_run(state: UiState, run_id: int) -> dict[str, Any]:
    """Call the reject path and shape its outcome (errors as `decide` raises them)."""
    decide(state, run_id, state.reject, "reject")
    return {"run_id": run_id, "decision": "rejected"}


def approve_run(state: UiState, run_id: int) -> dict[str, Any]:
    """Call the approve path and shape its outcome (errors as `decide` raises them)."""
    outcome = decide(state, run_id, state.approve, "release")
    return {
        "run_id": run_id,
        "status": str(outcome.status),
        "exit_code": outcome.exit_code,
        "error": outcome.error,
    }


def decide(state: UiState, run_id: int, path: Callable[[int], T] | None, verb: str) -> T:
    """Run a decision path (Approve or Reject) on a run, turning refusals into answers.

    Raises:
        HTTPException: 404 for an unknown run; 409 for a run with nothing to decide, a
            console that cannot write, or another process holding the apply lease for
            longer than the console waits.
    """
    if queries.get_run(state.ctx, run_id) is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    if path is None:
        why = state.read_only or "this console cannot write"
        raise HTTPException(409, f"cannot {verb} run {run_id} here: {why}")
    try:
        return path(run_id)
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    except LeaseBusyError as exc:
        raise HTTPException(409, lease_busy_detail(exc)) from None


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
def api_events(state: State, search: Search, response: Response) -> list[dict[str, Any]]:
    """One page of audit events matching the filters, newest first.

    `contact` matches any part of the email; `X-Total-Count` says how many match in all.
    """
    response.headers[TOTAL_HEADER] = str(count_events(state.ctx, search))
    return search_events(state.ctx, search)


@router.get(
    "/events.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def api_events_csv(state: State, search: Search) -> Response:
    """Every event the search matches as CSV (spreadsheet-safe cells), streamed as a download.

    `limit` and `offset` are ignored: an export holds every matching row, read from the
    database a batch at a time, so memory stays flat whatever the count.
    """
    return StreamingResponse(
        export_csv(state.ctx, search),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="syncd-changes.csv"'},
    )


@router.get("/contacts", response_model=models.ContactMatches, summary="Contacts search")
def api_contacts(
    state: State,
    q: Annotated[str, Query(max_length=320, pattern=NoNul)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Contacts whose email or name contains every word of `q`, by email."""
    found = search_contacts(state.ctx, q, limit=limit, offset=offset)
    return {"contacts": found.rows, "total": found.total, "offset": offset, "limit": limit}


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
