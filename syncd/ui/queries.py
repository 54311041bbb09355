"""What the console shows, as plain JSON-ready dicts: one function per page and API route.

Pages and the JSON API call the same functions, so a page never shows a figure the API does
not give (and the API's schema tests cover the pages' data). Run and change-log queries come
from `syncd.store.history`; this module adds what only the console needs: one run with its held
plan, one contact with its explain trace, and segment sizes over time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select

from syncd.engine.profiles.read import iter_contacts
from syncd.engine.segmentation import holdout_identity
from syncd.segments import RuleSet, analyse, explain
from syncd.store import history
from syncd.store.models import Contact, Membership, OutboxEntry, OutboxState, SyncRun
from syncd.store.segment_history import first_snapshots
from syncd.store.types import table_of
from syncd.ui.links import ExternalLinks

#: Sample contacts shown per target of a held plan.
PLAN_SAMPLES = 10
#: Change-log rows shown on a run page (the change-log page searches them all).
RUN_EVENTS = 50
#: Runs read for the segment-size chart, newest first.
CHART_RUNS = 60
#: Segment pairs shown in the overlap table.
TOP_OVERLAP = 15


@dataclass(frozen=True)
class Context:
    """What every query needs: the store, whose data, the rules, the clock and vendor links."""

    db: Engine
    workspace: str
    rules: RuleSet
    clock: Callable[[], datetime]
    links: ExternalLinks = field(default_factory=ExternalLinks)


def get_run(ctx: Context, run_id: int) -> dict[str, Any] | None:
    """One run as `history.list_runs` shapes it, or None when it is not in this workspace."""
    return history.get_run(ctx.db, ctx.workspace, run_id)


def held_plan(ctx: Context, run_id: int, samples: int = PLAN_SAMPLES) -> dict[str, Any]:
    """The pending outbox of a run: counts per target and action, and sample contacts.

    Returns:
        `{"targets": {target: {action: n}}, "samples": {target: [{email, action, value,
        reason}]}, "pending": total}`; samples are the first rows by outbox id.
    """
    o = table_of(OutboxEntry).c
    c = table_of(Contact).c
    pending = (o.workspace == ctx.workspace, o.run_id == run_id, o.state == OutboxState.HELD)
    targets: dict[str, dict[str, int]] = {}
    picked: dict[str, list[dict[str, Any]]] = {}
    with ctx.db.connect() as conn:
        counts = conn.execute(
            select(o.target, o.action, func.count())
            .where(*pending)
            .group_by(o.target, o.action)
            .order_by(o.target, o.action)
        ).all()
        for target, action, n in counts:
            targets.setdefault(target, {})[action] = int(n)
        for target in targets:
            rows = conn.execute(
                select(c.email, o.action, o.payload, o.reason)
                .join(table_of(Contact), c.id == o.contact_id)
                .where(*pending, o.target == target)
                .order_by(o.id)
                .limit(samples)
            ).all()
            picked[target] = [
                {
                    "email": email,
                    "action": action,
                    "value": _value(payload),
                    "reason": reason,
                }
                for email, action, payload, reason in rows
            ]
    total = sum(n for per in targets.values() for n in per.values())
    return {"targets": targets, "samples": picked, "pending": total}


def _value(payload: Mapping[str, Any] | None) -> str | None:
    value = (payload or {}).get("value")
    return None if value is None else str(value)


def run_detail(
    ctx: Context, run_id: int, *, offset: int = 0, limit: int = RUN_EVENTS
) -> dict[str, Any] | None:
    """A run, one page of its change log (newest first) and, when held, its stored plan.

    Also how many change-log rows the run has in all (`events_total`, with `events_offset`),
    and the undo runs that revert it (`undone_by`); an undo run names its run in `undo_of`.
    """
    run = get_run(ctx, run_id)
    if run is None:
        return None
    now = ctx.clock()
    filters = history.AuditFilter(run_id=run_id, limit=limit, offset=offset)
    events = history.list_events(ctx.db, ctx.workspace, filters, now)
    total = history.count_events(ctx.db, ctx.workspace, filters, now)
    plan = held_plan(ctx, run_id) if run["held_targets"] else None
    return {
        "run": run,
        "events": events,
        "events_total": total,
        "events_offset": offset,
        "plan": plan,
        "undone_by": history.undo_runs_of(ctx.db, ctx.workspace, run_id),
    }


def with_links(ctx: Context, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with `hubspot_url` and `mailchimp_url` of their contact (None if unknown).

    Ids come from the contact as stored now (one query for the whole page), else from the
    event: the Mailchimp link needs the member's `contact_id` (`mailchimp_key`), which only the
    contact holds.
    """
    ids = {e["contact_id"] for e in events if e.get("contact_id") is not None}
    known: dict[int, tuple[str | None, str | None]] = {}
    links = ctx.links
    if ids and (links.hubspot_portal_id is not None or links.mailchimp_dc):
        c = table_of(Contact).c
        query = select(c.id, c.hubspot_id, c.mailchimp_key).where(c.id.in_(sorted(ids)))
        with ctx.db.connect() as conn:
            rows = conn.execute(query).all()
        known = {int(cid): (hid, key) for cid, hid, key in rows}
    for e in events:
        hubspot_id, member = known.get(e.get("contact_id") or -1, (None, None))
        e["hubspot_url"] = links.hubspot_contact(hubspot_id or e.get("hubspot_id"))
        e["mailchimp_url"] = links.mailchimp_member(member)
    return events


def contact_detail(ctx: Context, email: str) -> dict[str, Any] | None:
    """One contact: ids, merged profile, each source's fields, explain trace, memberships."""
    email = email.strip().lower()
    c = table_of(Contact).c
    with ctx.db.connect() as conn:
        row = (
            conn.execute(
                select(table_of(Contact))
                .where(
                    c.workspace == ctx.workspace,
                    or_(c.email == email, c.mailchimp_email == email),
                )
                # The person still in a system first, then the most recent.
                .order_by(
                    (c.hubspot_id.is_(None) & c.mailchimp_id.is_(None)).asc(), c.updated_at.desc()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        m = table_of(Membership).c
        ledger = conn.execute(
            select(m.target, m.state, m.value, m.run_id, m.updated_at)
            .where(m.workspace == ctx.workspace, m.contact_id == row["id"])
            .order_by(m.target)
        ).mappings()
        owned = [_jsonable(x) for x in ledger]
    stored = next(iter_contacts(ctx.db, ctx.workspace, ctx.rules.fields, email=email), None)
    profile = stored.profile if stored is not None else {"email": email}
    pid = holdout_identity(stored) if stored is not None else None
    explanation = explain(ctx.rules, profile, ctx.clock(), profile_id=pid).to_dict()
    attrs: dict[str, Any] = row["attributes"] or {}
    return {
        "id": row["id"],
        "email": row["email"],
        "hubspot_url": ctx.links.hubspot_contact(row["hubspot_id"]),
        "mailchimp_url": ctx.links.mailchimp_member(row["mailchimp_key"]),
        "hubspot_id": row["hubspot_id"],
        "mailchimp_id": row["mailchimp_id"],
        "mailchimp_status": (attrs.get("mailchimp") or {}).get("_status"),
        "mailchimp_tags": list((attrs.get("mailchimp") or {}).get("_tags") or []),
        "profile": {k: _scalar(v) for k, v in profile.items()},
        "explain": explanation,
        "memberships": owned,
        "history": history.membership_history(ctx.db, ctx.workspace, email),
    }


def segments_overview(ctx: Context) -> dict[str, Any]:
    """Segment report on the stored contacts now, plus sizes per run over time.

    Sizes over time come from each run's `counts["segment_sizes"]`; runs without them are
    skipped, and the sizes computed now are the last point.
    """
    now = ctx.clock()
    profiles = [s.profile for s in iter_contacts(ctx.db, ctx.workspace, ctx.rules.fields)]
    born = first_snapshots(ctx.db, ctx.workspace)
    report = analyse(ctx.rules, profiles, now, first_seen=born).to_dict()
    r = table_of(SyncRun).c
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(r.id, r.started_at, r.counts)
            .where(r.workspace == ctx.workspace)
            .order_by(r.id.desc())
            .limit(CHART_RUNS)
        ).all()
    series: list[dict[str, Any]] = []
    for run_id, started, counts in reversed(rows):
        sizes = (counts or {}).get("segment_sizes")
        if isinstance(sizes, Mapping) and sizes:
            at = started.isoformat() if started else None
            series.append(
                {"run_id": run_id, "at": at, "sizes": {k: int(v) for k, v in sizes.items()}}
            )
    current = {s["key"]: int(s["size"]) for s in report["segments"]}
    series.append({"run_id": None, "at": now.isoformat(), "sizes": current})
    return {"report": report, "history": series, "top_overlap": top_overlap(report)}


def top_overlap(report: Mapping[str, Any], n: int = TOP_OVERLAP) -> list[dict[str, Any]]:
    """The `n` most overlapping segment pairs by Jaccard index (each pair once)."""
    pairs = [
        {"a": a, "b": b, "members": int(count), "jaccard": float(report["jaccard"][a][b])}
        for a, row in report["overlap"].items()
        for b, count in row.items()
        if a < b
    ]
    pairs.sort(key=lambda p: (-p["jaccard"], -p["members"], p["a"], p["b"]))
    return pairs[:n]


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _jsonable(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: _scalar(v) for k, v in row.items()}
