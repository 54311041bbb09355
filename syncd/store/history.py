"""Read side of the run history and the change log: `syncd runs`, `syncd audit`, explain.

Everything here returns plain, JSON-ready dicts (timestamps as ISO 8601 strings), so the CLI can
print them as a table, as JSON or as CSV without knowing the schema. Every failure carries its
`reason_code` and the one-line `hint` the failure table (`syncd.failures`) gives for it, so an
admin reads what to do next next to what failed.

Queries are shaped for the audit table's indexes: a contact's events come from
`(workspace, email, at)`, a segment's from `(workspace, segment, at)` and a run's from `(run_id)`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, or_, select, union

from syncd.errors import ConfigError
from syncd.failures import stored_advice
from syncd.store.counts import TARGET_FIGURES, RunCounts
from syncd.store.models import (
    AuditEvent,
    Contact,
    Membership,
    RemoteTarget,
    RunStatus,
    SyncRun,
)
from syncd.store.types import table_of
from syncd.targets import TargetKind

#: Per-target figures summed into a run's `totals`, in display order.
TOTAL_KEYS = TARGET_FIGURES

#: Column order of `events_to_csv`; stable, so spreadsheets and scripts can rely on it.
EVENT_COLUMNS = (
    "id",
    "at",
    "run_id",
    "workspace",
    "contact_id",
    "email",
    "hubspot_id",
    "mailchimp_id",
    "segment",
    "target",
    "action",
    "value",
    "reason",
    "outcome",
    "error_class",
    "message",
    "hint",
    "reason_code",
)

_FAILED_OUTCOMES = ("rejected", "retry")
#: What a change-log row's `outcome` and `action` can be (see `AuditEvent`), for filter menus.
#: Every outcome an audit event can have: `closed` when a membership ended with its person or
#: member, `decided` for a person's decision on a hold.
EVENT_OUTCOMES = ("applied", "rejected", "retry", "skipped", "detected", "closed", "decided")
#: `ingest`: a record the pull refused; `merge`: two profiles folded after a HubSpot merge.
EVENT_ACTIONS = (
    "add", "remove", "set", "drift", "reject", "skip", "release", "ingest", "merge",
)  # fmt: skip
_MEMBERSHIP_KINDS = (f"{TargetKind.HUBSPOT_LIST}:", f"{TargetKind.MAILCHIMP_TAG}:")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _jsonable(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


# --- runs -------------------------------------------------------------------------------------


def list_runs(
    db: Engine,
    workspace: str,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    failures: int = 3,
) -> list[dict[str, Any]]:
    """Runs, newest first, with their figures, what failed most, and what to do about it.

    Args:
        db: The store.
        workspace: Whose runs.
        status: Only runs with this status (`success`, `partial`, `failed`, `held`, `running`).
        limit: At most this many runs.
        offset: Skip this many of the newest first (the next page).
        failures: Per run, the most frequent failures (from the audit log) to include.

    Returns:
        One dict per run. `counts` is per target, `totals` sums it over targets; `failures`
        lists `{target, outcome, error_class, reason_code, message, hint, count}`, most
        frequent first; `hint` is the one-line advice for the run as a whole (None when all
        went well).

    Raises:
        ConfigError: `status` is not a run status.
    """
    if status is not None and status not in {s.value for s in RunStatus}:
        known = ", ".join(s.value for s in RunStatus)
        raise ConfigError(f"unknown run status {status!r}", hint=f"use one of: {known}")
    r = table_of(SyncRun).c
    query = select(table_of(SyncRun)).where(r.workspace == workspace)
    if status is not None:
        query = query.where(r.status == status)
    with db.connect() as conn:
        rows = (
            conn.execute(query.order_by(r.id.desc()).limit(limit).offset(offset)).mappings().all()
        )
        top = run_failures(conn, [row["id"] for row in rows], failures) if failures else {}
    return [_run_dict(row, top.get(row["id"], [])) for row in rows]


def count_runs(db: Engine, workspace: str, *, status: str | None = None) -> int:
    """How many runs `list_runs` would page through with the same filter ("showing N of M")."""
    r = table_of(SyncRun).c
    query = select(func.count()).select_from(table_of(SyncRun)).where(r.workspace == workspace)
    if status is not None:
        query = query.where(r.status == status)
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def get_run(
    db: Engine, workspace: str, run_id: int, *, failures: int = 10
) -> dict[str, Any] | None:
    """One run shaped as `list_runs` shapes it, or None when the workspace has no such run."""
    r = table_of(SyncRun).c
    query = select(table_of(SyncRun)).where(r.workspace == workspace, r.id == run_id)
    with db.connect() as conn:
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        top = run_failures(conn, [run_id], failures).get(run_id, [])
    return _run_dict(row, top)


@dataclass(frozen=True)
class RunFilter:
    """Filters of the run history (the console's runs page); all optional, combined with AND.

    `since` and `until` bound `started_at` (`since` inclusive, `until` exclusive).
    """

    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


def _where_runs(query: Select[Any], workspace: str, filters: RunFilter) -> Select[Any]:
    if filters.status is not None and filters.status not in {s.value for s in RunStatus}:
        known = ", ".join(s.value for s in RunStatus)
        raise ConfigError(f"unknown run status {filters.status!r}", hint=f"use one of: {known}")
    r = table_of(SyncRun).c
    query = query.where(r.workspace == workspace)
    if filters.status is not None:
        query = query.where(r.status == filters.status)
    if filters.trigger is not None:
        query = query.where(r.trigger == filters.trigger)
    if filters.since is not None:
        query = query.where(r.started_at >= filters.since)
    if filters.until is not None:
        query = query.where(r.started_at < filters.until)
    return query


def search_runs(
    db: Engine, workspace: str, filters: RunFilter, *, failures: int = 3
) -> list[dict[str, Any]]:
    """One page of runs matching `filters`, newest first, shaped as `list_runs` shapes them.

    Raises:
        ConfigError: `filters.status` is not a run status.
    """
    r = table_of(SyncRun).c
    query = _where_runs(select(table_of(SyncRun)), workspace, filters)
    query = query.order_by(r.id.desc()).limit(filters.limit).offset(filters.offset)
    with db.connect() as conn:
        rows = conn.execute(query).mappings().all()
        top = run_failures(conn, [row["id"] for row in rows], failures) if failures else {}
    return [_run_dict(row, top.get(row["id"], [])) for row in rows]


def count_runs_matching(db: Engine, workspace: str, filters: RunFilter) -> int:
    """How many runs match `filters` in all (limit and offset ignored)."""
    query = _where_runs(select(func.count()).select_from(table_of(SyncRun)), workspace, filters)
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def run_triggers(db: Engine, workspace: str) -> list[str]:
    """The triggers the workspace's runs have had (`schedule`, `manual`, ...), sorted."""
    r = table_of(SyncRun).c
    query = select(r.trigger).where(r.workspace == workspace).distinct().order_by(r.trigger)
    with db.connect() as conn:
        return [str(t) for t in conn.execute(query).scalars()]


def undo_runs_of(db: Engine, workspace: str, run_id: int) -> list[int]:
    """The undo runs that revert run `run_id` (usually none or one), oldest first."""
    r = table_of(SyncRun).c
    query = (
        select(r.id, r.counts)
        .where(r.workspace == workspace, r.trigger == "undo", r.id > run_id)
        .order_by(r.id)
    )
    with db.connect() as conn:
        rows = conn.execute(query).all()
    return [int(rid) for rid, counts in rows if RunCounts.from_json(counts).undo_of == run_id]


def event_choices(db: Engine, workspace: str, column: str, *, limit: int = 500) -> list[str]:
    """The distinct values the change log holds in one column, sorted, for filter menus.

    `column` is `outcome`, `target`, `segment` or `action`.
    """
    if column not in ("outcome", "target", "segment", "action"):
        raise ValueError(f"not a filter column: {column}")
    a = table_of(AuditEvent).c
    col = a[column]
    query = (
        select(col)
        .where(a.workspace == workspace, col.is_not(None))
        .distinct()
        .order_by(col)
        .limit(limit)
    )
    with db.connect() as conn:
        return [str(v) for v in conn.execute(query).scalars()]


def target_choices(db: Engine, workspace: str) -> list[str]:
    """The lists, tags and properties syncd owns or wrote (ledger and remote targets), sorted.

    Read from the small tables, not the change log, so a filter menu costs little however
    long the log is.
    """
    m, t = table_of(Membership).c, table_of(RemoteTarget).c
    query = union(
        select(m.target).where(m.workspace == workspace),
        select(t.target).where(t.workspace == workspace),
    )
    with db.connect() as conn:
        return sorted({str(v) for v in conn.execute(query).scalars()})


def _run_dict(row: Mapping[Any, Any], failures: list[dict[str, Any]]) -> dict[str, Any]:
    counts = RunCounts.from_json(row["counts"])
    finished, started = row["finished_at"], row["started_at"]
    return {
        "id": row["id"],
        "status": row["status"],
        "trigger": row["trigger"],
        "full": row["full"],
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_s": round((finished - started).total_seconds(), 3) if finished else None,
        "counts": counts.targets,
        "totals": counts.totals(),
        "undo_of": counts.undo_of,
        "pulled": counts.pulled,
        "held_reasons": counts.held_reasons,
        "held_targets": sorted(counts.held),
        "waiting": counts.waiting,
        "decisions": counts.decisions,
        "deferred": counts.deferred,
        "stale_sources": counts.stale_sources,
        "api_calls": row["api_calls"],
        "http_429": row["http_429"],
        "api_calls_by_api": counts.api_calls,
        "http_429_by_api": counts.http_429,
        "error_class": row["error_class"],
        "reason_code": row["reason_code"],
        "error": row["error_message"],
        "failures": failures,
        "hint": _run_hint(row, counts, failures),
    }


def _run_hint(
    row: Mapping[Any, Any], counts: RunCounts, failures: Sequence[Mapping[str, Any]]
) -> str | None:
    if counts.held:
        run = row["id"]
        return (
            f"{', '.join(sorted(counts.held))} held by a safety guard; review with "
            f"`syncd plan --run {run}`, then `syncd apply --run {run}` or "
            f"`syncd reject --run {run}`"
        )
    if row["error_class"] is not None or row["error_message"]:
        return stored_advice(row["reason_code"], row["error_class"], row["error_message"])
    if counts.waiting:
        return "; ".join(
            f"{t} waits for a decision on run {n}" for t, n in sorted(counts.waiting.items())
        )
    if failures:
        hint: str | None = failures[0]["hint"]
        return hint
    return None


def run_failures(
    conn: Connection, run_ids: Sequence[int], per_run: int
) -> dict[int, list[dict[str, Any]]]:
    """The most frequent (target, outcome, class, reason, message) failures of each run."""
    if not run_ids:
        return {}
    a = table_of(AuditEvent).c
    n = func.count().label("n")
    columns = (a.run_id, a.target, a.outcome, a.error_class, a.reason_code, a.message)
    rows = conn.execute(
        select(*columns, n)
        .where(a.run_id.in_(list(run_ids)), a.outcome.in_(_FAILED_OUTCOMES))
        .group_by(*columns)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    for run_id, target, outcome, error_class, code, message, count in rows:
        grouped.setdefault(run_id, []).append(
            {
                "target": target,
                "outcome": outcome,
                "error_class": error_class,
                "reason_code": code,
                "message": message,
                "hint": stored_advice(code, error_class, message, target),
                "count": int(count),
            }
        )
    for items in grouped.values():
        items.sort(key=lambda f: (-f["count"], f["target"] or "", f["message"] or ""))
        del items[per_run:]
    return grouped


# --- the change log ---------------------------------------------------------------------------


def person_events(workspace: str, email: str) -> ColumnElement[bool]:
    """A filter on audit events: those of the person who has, or had, this address.

    History is kept by contact id, so it follows the person across address changes: the
    events stored under `email`, and every event of each profile that has the address now
    (HubSpot's or its Mailchimp member's) or had it when an event was recorded.
    """
    a, c = table_of(AuditEvent).c, table_of(Contact).c
    email = email.strip().lower()
    ids = union(
        select(c.id).where(
            c.workspace == workspace, or_(c.email == email, c.mailchimp_email == email)
        ),
        select(a.contact_id).where(
            a.workspace == workspace, a.email == email, a.contact_id.is_not(None)
        ),
    ).subquery()
    return or_(a.email == email, a.contact_id.in_(select(ids.c[0])))


@dataclass(frozen=True)
class AuditFilter:
    """Filters of `syncd audit`; all optional, combined with AND."""

    contact: str | None = None
    segment: str | None = None
    run_id: int | None = None
    since: timedelta | None = None
    until: datetime | None = None
    target: str | None = None
    outcome: str | None = None
    action: str | None = None
    #: At most this many events; None for all of them (exports).
    limit: int | None = 1000
    #: Skip this many of the newest first (the next page).
    offset: int = 0
    #: Part of an email, matched case-insensitively anywhere in the address.
    contact_like: str | None = None


def list_events(
    db: Engine, workspace: str, filters: AuditFilter, now: datetime
) -> list[dict[str, Any]]:
    """Audit events matching `filters`, newest first, each with its `hint` (None if applied).

    Args:
        db: The store.
        workspace: Whose events.
        filters: `contact` is an email, matched case-insensitively (the log stores it
            normalised); `since` is an age relative to `now`.
        now: The clock, so callers and tests agree on what "the last day" means.
    """
    return list(iter_events(db, workspace, filters, now))


def iter_events(
    db: Engine, workspace: str, filters: AuditFilter, now: datetime, *, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """`list_events` as a stream: rows are fetched `batch` at a time, in constant memory.

    Exports (`syncd audit --csv/--json`) use it with `limit=None` to write every matching row
    however many there are; PostgreSQL streams them through a server-side cursor.
    """
    a = table_of(AuditEvent).c
    query = _event_query(workspace, filters, now).order_by(a.at.desc(), a.id.desc())
    if filters.limit is not None:
        query = query.limit(filters.limit)
    if filters.offset:
        query = query.offset(filters.offset)
    with db.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
        for row in result.mappings():
            yield _event_dict(row)


def count_events(db: Engine, workspace: str, filters: AuditFilter, now: datetime) -> int:
    """How many events match `filters`, ignoring `limit` and `offset` ("showing N of M")."""
    query = _event_query(workspace, filters, now).subquery()
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(query)).scalar_one())


def audit_has(db: Engine, workspace: str, column: str, value: str) -> bool:
    """Whether any event of the workspace has `value` in `column` (`segment`, `target`)."""
    a = table_of(AuditEvent).c
    query = select(a.id).where(a.workspace == workspace, a[column] == value).limit(1)
    with db.connect() as conn:
        return conn.execute(query).first() is not None


def _event_query(workspace: str, filters: AuditFilter, now: datetime) -> Select[Any]:
    a = table_of(AuditEvent).c
    query = select(table_of(AuditEvent)).where(a.workspace == workspace)
    if filters.contact is not None:
        query = query.where(person_events(workspace, filters.contact))
    if filters.contact_like:
        part = filters.contact_like.strip().lower()
        query = query.where(a.email.contains(part, autoescape=True))
    if filters.segment is not None:
        query = query.where(a.segment == filters.segment)
    if filters.run_id is not None:
        query = query.where(a.run_id == filters.run_id)
    if filters.target is not None:
        query = query.where(a.target == filters.target)
    if filters.outcome is not None:
        query = query.where(a.outcome == filters.outcome)
    if filters.action is not None:
        query = query.where(a.action == filters.action)
    if filters.since is not None:
        query = query.where(a.at >= now - filters.since)
    if filters.until is not None:
        query = query.where(a.at < filters.until)
    return query


def _event_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    out = _jsonable(row)
    failed = out.get("outcome") in _FAILED_OUTCOMES or out.get("error_class") is not None
    out["hint"] = (
        stored_advice(out["reason_code"], out["error_class"], out["message"], out["target"])
        if failed
        else None
    )
    return out


def write_events_csv(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write the events as `events_to_csv` would, row by row; returns how many were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    n = 0
    for row in rows:
        writer.writerow(_csv_row(row))
        n += 1
    return n


def write_events_json(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write the events as the JSON array `events_to_json` makes, one row at a time."""
    out.write("[")
    n = 0
    for row in rows:
        out.write(",\n" if n else "\n")
        out.write(json.dumps(_json_row(row)))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def events_to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The events as CSV with a header and the columns of `EVENT_COLUMNS`, in that order.

    A text cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`)
    is prefixed with `'`: vendor messages and addresses come from outside and are exported to
    people who open them in Excel.
    """
    buf = io.StringIO()
    write_events_csv(rows, buf)
    return buf.getvalue()


def iter_events_csv(rows: Iterable[Mapping[str, Any]], *, chunk: int = 200) -> Iterator[str]:
    """`events_to_csv` in pieces (the header, then `chunk` rows at a time), for streaming."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    pending = 0
    for row in rows:
        writer.writerow(_csv_row(row))
        pending += 1
        if pending >= chunk:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            pending = 0
    yield buf.getvalue()


def _csv_row(row: Mapping[str, Any]) -> list[Any]:
    return [_csv_cell(row.get(col)) for col in EVENT_COLUMNS]


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    data = _jsonable(row)
    return {col: data.get(col) for col in EVENT_COLUMNS}


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def events_to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """The events as a JSON array (keys in `EVENT_COLUMNS` order), for `syncd audit --json`."""
    return json.dumps([_json_row(row) for row in rows])


# --- one contact's memberships ------------------------------------------------------------------


def membership_history(db: Engine, workspace: str, email: str) -> list[dict[str, Any]]:
    """When one contact entered and left each owned list and tag, and in which run.

    Derived from the change log: applied adds open a membership, applied removes close it, and
    drift events record a person's hand-made removal (closing it) or addition (opening one syncd
    does not own). Pruned history shows as a membership with an unknown start.

    Returns:
        Oldest first: `{target, segment, entered_at, entered_run, entered_reason, left_at,
        left_run, left_reason, state}`, where `state` is `member` (still in, syncd's),
        `left` (syncd removed it), `removed_by_hand` or `added_by_hand`.
    """
    a = table_of(AuditEvent).c
    query = (
        select(a.run_id, a.at, a.segment, a.target, a.action, a.reason, a.outcome)
        .where(
            a.workspace == workspace,
            person_events(workspace, email),
            a.action.in_(("add", "remove", "drift")),
            # `closed`: it ended with its contact, member or target, without a write.
            a.outcome.in_(("applied", "detected", "closed")),
        )
        .order_by(a.at, a.id)
    )
    with db.connect() as conn:
        events = conn.execute(query).mappings().all()
    spans: list[dict[str, Any]] = []
    open_span: dict[str, dict[str, Any]] = {}
    for ev in events:
        target = ev["target"]
        if not target or not target.startswith(_MEMBERSHIP_KINDS):
            continue
        current = open_span.get(target)
        by_hand = ev["action"] == "drift"
        entering = ev["action"] == "add" or (by_hand and "added by hand" in (ev["reason"] or ""))
        if entering:
            if current is not None:
                continue  # already in: a repeated add changes nothing
            span = _span(ev, "added_by_hand" if by_hand else "member")
            span.update(entered_at=_iso(ev["at"]), entered_run=ev["run_id"])
            span["entered_reason"] = ev["reason"]
            spans.append(span)
            open_span[target] = span
            continue
        if current is None:  # the entry was pruned, or never made by syncd
            current = _span(ev, "member")
            spans.append(current)
        current.update(left_at=_iso(ev["at"]), left_run=ev["run_id"], left_reason=ev["reason"])
        current["state"] = "removed_by_hand" if by_hand else "left"
        open_span.pop(target, None)
    return spans


def _span(ev: Mapping[Any, Any], state: str) -> dict[str, Any]:
    return {
        "target": ev["target"],
        "segment": ev["segment"],
        "entered_at": None,
        "entered_run": None,
        "entered_reason": None,
        "left_at": None,
        "left_run": None,
        "left_reason": None,
        "state": state,
    }
