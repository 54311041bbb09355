"""Response shapes of the JSON API: the OpenAPI schema is generated from these.

They mirror the dicts of `syncd.store.history` and `syncd.ui.queries`; free-form parts (a rule's
explain trace, the analytics report, a profile's fields) stay open objects because their keys
come from the user's mappings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RunFailure(BaseModel):
    """One kind of failure in a run, most frequent first."""

    target: str | None
    outcome: str
    error_class: str | None
    reason_code: str | None = None
    message: str | None
    hint: str | None
    count: int


class Run(BaseModel):
    """One sync run with its figures; `counts` is per target, `totals` summed over targets."""

    id: int
    status: str
    trigger: str
    full: bool
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    undo_of: int | None = None
    pulled: dict[str, int]
    held_reasons: list[str]
    api_calls: int
    http_429: int
    api_calls_by_api: dict[str, int]
    http_429_by_api: dict[str, int]
    error_class: str | None
    reason_code: str | None = None
    error: str | None
    failures: list[RunFailure]
    hint: str | None


class Event(BaseModel):
    """One change-log row; `hint` is set for failures."""

    id: int
    at: str | None
    run_id: int | None
    workspace: str
    contact_id: int | None
    email: str | None
    hubspot_id: str | None
    mailchimp_id: str | None
    segment: str | None
    target: str | None
    action: str
    value: str | None = None
    reason: str | None
    outcome: str
    error_class: str | None
    message: str | None
    hint: str | None
    reason_code: str | None = None


class PlanSample(BaseModel):
    """One planned change of a held run."""

    email: str
    action: str
    value: str | None
    reason: str | None


class HeldPlan(BaseModel):
    """The pending outbox of a held run."""

    targets: dict[str, dict[str, int]]
    samples: dict[str, list[PlanSample]]
    pending: int


class RunDetail(BaseModel):
    """A run, its latest change-log rows and, when held, its plan."""

    run: Run
    events: list[Event]
    events_total: int = 0
    events_offset: int = 0
    plan: HeldPlan | None
    undone_by: list[int] = []


class Span(BaseModel):
    """One stay of a contact in a list or tag."""

    target: str
    segment: str | None
    entered_at: str | None
    entered_run: int | None
    entered_reason: str | None
    left_at: str | None
    left_run: int | None
    left_reason: str | None
    state: str


class ContactDetail(BaseModel):
    """One contact: ids, merged profile, explain trace, ledger and membership history."""

    id: int
    email: str
    hubspot_id: str | None
    mailchimp_id: str | None
    hubspot_url: str | None = None
    mailchimp_url: str | None = None
    mailchimp_status: str | None
    mailchimp_tags: list[str]
    profile: dict[str, Any]
    explain: dict[str, Any]
    memberships: list[dict[str, Any]]
    history: list[Span]


class ContactMatch(BaseModel):
    """One contact found by the contacts search."""

    id: int
    email: str
    name: str | None
    hubspot_id: str | None
    mailchimp_id: str | None
    mailchimp_status: str | None
    updated_at: str | None


class ContactMatches(BaseModel):
    """One page of the contacts search and how many match in all."""

    contacts: list[ContactMatch]
    total: int
    offset: int
    limit: int


class RunPage(BaseModel):
    """One page of runs and how many match the filters in all."""

    runs: list[Run]
    total: int
    offset: int
    limit: int


class SizePoint(BaseModel):
    """Segment sizes after one run (`run_id` None: computed now)."""

    run_id: int | None
    at: str | None
    sizes: dict[str, int]


class OverlapPair(BaseModel):
    """Two segments that share members."""

    a: str
    b: str
    members: int
    jaccard: float


class Segments(BaseModel):
    """The analytics report now, segment sizes over time, and the most overlapping pairs."""

    report: dict[str, Any]
    history: list[SizePoint]
    top_overlap: list[OverlapPair]


class ApproveResult(BaseModel):
    """What releasing a held run did."""

    run_id: int
    status: str
    exit_code: int | None
    error: str | None


class RejectResult(BaseModel):
    """What rejecting a held plan did."""

    run_id: int
    decision: str


class Problem(BaseModel):
    """An error answer."""

    detail: str
