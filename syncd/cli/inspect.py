"""Commands that read what happened: `runs`, `audit`, `segments list|explain`, and `ui`.

They need only the store (and the mappings); none of them calls HubSpot or Mailchimp.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy import Engine

from syncd.cli import refine
from syncd.cli.common import (
    ConfigOpt,
    JsonOpt,
    OffsetOpt,
    choose,
    err,
    fail,
    load_rules,
    open_db,
    out,
    require_database,
    require_run,
    run_id_option,
    settings_for,
)
from syncd.cli.render import print_events, print_history, print_page, print_runs
from syncd.cli.text import line
from syncd.config import Settings, parse_duration
from syncd.engine.dwell import deferred_for
from syncd.engine.profiles.read import iter_contacts
from syncd.engine.segmentation import holdout_identity, segment_targets
from syncd.errors import ConfigError, ExitCode
from syncd.segments import analyse, explain
from syncd.store.history import (
    EVENT_OUTCOMES,
    AuditFilter,
    audit_has,
    count_events,
    count_runs,
    iter_events,
    list_events,
    list_runs,
    membership_history,
    write_events_csv,
    write_events_json,
)
from syncd.store.models import RunStatus
from syncd.store.segment_history import first_snapshots
from syncd.store.types import utcnow

#: What `--outcome` may be: the outcomes the change log records.
OUTCOMES = EVENT_OUTCOMES
#: Events the table shows when `--limit` is not given (exports write all of them).
TABLE_ROWS = 100


def segments_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Segment sizes, coverage, overlap and KPIs."""
    settings = settings_for(config)
    rules = load_rules(settings.mappings)
    store = open_db(settings)
    try:
        profiles = [c.profile for c in iter_contacts(store, settings.workspace, rules.fields)]
        born = first_snapshots(store, settings.workspace)
    finally:
        store.dispose()
    report = analyse(rules, profiles, utcnow(), first_seen=born)
    if json_:
        out.print_json(data=report.to_dict())
    else:
        out.print(line(report.render_text(), multiline=True))


def segments_explain(email: str, config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Why one contact is in or out of each segment."""
    settings = settings_for(config)
    rules = load_rules(settings.mappings)
    store = open_db(settings)
    try:
        found = list(
            iter_contacts(store, settings.workspace, rules.fields, email=email.strip().lower())
        )
        history = membership_history(store, settings.workspace, email) if found else []
    finally:
        store.dispose()
    if not found:
        fail(
            f"no contact with the email {email!r} in workspace {settings.workspace} "
            "(`syncd audit` or the console's contacts page shows who is there)",
            ExitCode.USAGE,
        )
    now = utcnow()
    explanation = explain(rules, found[0].profile, now, profile_id=holdout_identity(found[0]))
    members = {v.key: v.member for v in explanation.segments}
    store = open_db(settings)
    try:
        targets = segment_targets(rules, settings.safety.min_dwell)
        waiting = deferred_for(store, settings.workspace, found[0].id, targets, members, now)
    finally:
        store.dispose()
    if json_:
        data = {**explanation.to_dict(), "membership_history": history, "deferred": waiting}
        out.print_json(data=data)
        return
    out.print(line(explanation.render_text(), multiline=True))
    for item in waiting:
        out.print(
            line(
                ("deferred by min_dwell: ", "yellow"),
                f"{item['change']} on ",
                item["target"],
                f" not before {item['until'][:16].replace('T', ' ')} UTC",
            )
        )
    print_history(out, history)


def runs(
    config: ConfigOpt = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most runs to show.")] = 20,
    offset: OffsetOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Sync history, newest first, a page at a time."""
    settings = settings_for(config)
    if status is not None:
        choose(status, [s.value for s in RunStatus], option="--status", what="run status")
    store = open_db(settings)
    try:
        rows = list_runs(store, settings.workspace, status=status, limit=limit, offset=offset)
        total = count_runs(store, settings.workspace, status=status)
    finally:
        store.dispose()
    if json_:
        out.print_json(data=rows)
        return
    print_runs(out, rows)
    print_page(out, "runs", len(rows), total, offset)


def audit(
    config: ConfigOpt = None,
    contact: Annotated[str | None, typer.Option(help="Email of the contact.")] = None,
    segment: Annotated[str | None, typer.Option(help="Segment key.")] = None,
    target: Annotated[str | None, typer.Option(help="Target, e.g. hubspot_list:KEY.")] = None,
    outcome: Annotated[str | None, typer.Option(help=f"One of: {', '.join(OUTCOMES)}.")] = None,
    run: Annotated[int | None, run_id_option("Only this run's events.")] = None,
    since: Annotated[str | None, typer.Option(help="Age, such as 1d or 12h.")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Most events to show [default: 100 in the table, all in exports]."
        ),
    ] = None,
    offset: OffsetOpt = 0,
    json_: JsonOpt = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print CSV for a spreadsheet.")] = False,
) -> None:
    """The change log: what changed, when, why, and what failed."""
    settings = settings_for(config)
    if json_ and csv_:
        fail("--json and --csv: choose one", ExitCode.USAGE)
    if outcome is not None:
        choose(outcome, OUTCOMES, option="--outcome", what="outcome")
    try:
        age = parse_duration(since) if since is not None else None
    except ValueError as exc:
        fail(f"--since {since}: {exc}", ExitCode.USAGE)
    exporting = json_ or csv_
    filters = AuditFilter(
        contact=contact,
        segment=segment,
        run_id=run,
        since=age,
        target=target,
        outcome=outcome,
        limit=limit if limit is not None or exporting else TABLE_ROWS,
        offset=offset,
    )
    store = open_db(settings)
    try:
        _check_filters(store, settings, filters)
        now = utcnow()
        if exporting:
            write = write_events_csv if csv_ else write_events_json
            write(iter_events(store, settings.workspace, filters, now), sys.stdout)
            return
        rows = list_events(store, settings.workspace, filters, now)
        total = count_events(store, settings.workspace, filters, now)
    finally:
        store.dispose()
    print_events(out, rows)
    print_page(out, "events", len(rows), total, offset)


def _check_filters(store: Engine, settings: Settings, filters: AuditFilter) -> None:
    """Refuse a segment, target, run or contact that does not exist, with "did you mean"."""
    workspace = settings.workspace
    if filters.run_id is not None:
        require_run(store, workspace, filters.run_id)
    if filters.segment is None and filters.target is None and filters.contact is None:
        return
    rules = load_rules(settings.mappings)
    if filters.segment is not None and not audit_has(store, workspace, "segment", filters.segment):
        keys = [s.key for s in rules.segments] + [s.key for s in rules.stages]
        choose(filters.segment, keys, option="--segment", what="segment")
    if filters.target is not None and not audit_has(store, workspace, "target", filters.target):
        refs = [r.key for t in segment_targets(rules) for r in t.refs()]
        choose(filters.target, refs, option="--target", what="target")
    if filters.contact is not None and not audit_has(
        store, workspace, "email", filters.contact.strip().lower()
    ):
        raise ConfigError(
            f"--contact: no change-log event for {filters.contact!r} in workspace {workspace}",
            hint="check the address; `syncd segments explain EMAIL` shows a stored contact",
        )


def ui(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address; default ui.host.")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port; default ui.port.")
    ] = None,
) -> None:
    """Serve the admin web console (runs, change log, contacts, segments) until SIGTERM.

    Any migrated database will do: without connector settings the console only reads, and
    Approve is shown disabled with the reason.
    """
    settings = settings_for(config)
    from syncd.ui import open_console, serve

    require_database(settings.database_url)
    bind_host, bind_port = host or settings.ui.host, port or settings.ui.port
    app_, token, close = open_console(settings, bind_host)
    try:
        err.print(line(f"admin console on http://{bind_host}:{bind_port}/"))
        serve(app_, bind_host, bind_port, token)
    finally:
        close()


def register(app: typer.Typer) -> None:
    """Add these commands (and the `segments` group) to the `syncd` app."""
    app.command()(runs)
    app.command()(audit)
    app.command()(ui)
    segments = typer.Typer(
        help="Segment sizes, coverage, overlap and explain.", no_args_is_help=True
    )
    segments.command("list")(segments_list)
    segments.command("explain")(segments_explain)
    refine.register_segments(segments)
    app.add_typer(segments, name="segments")
