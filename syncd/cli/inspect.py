"""Commands that read what happened: `runs`, `audit`, `segments list|explain`, and `ui`.

They need only the store (and the mappings); none of them calls HubSpot or Mailchimp.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from syncd.cli import refine
from syncd.cli.common import (
    ConfigOpt,
    JsonOpt,
    err,
    fail,
    load_rules,
    open_db,
    out,
    runtime,
    settings_for,
)
from syncd.cli.render import print_events, print_history, print_runs
from syncd.cli.text import line
from syncd.config import parse_duration
from syncd.engine.profiles.read import iter_contacts
from syncd.engine.segmentation import holdout_identity
from syncd.errors import ConfigError, ExitCode
from syncd.segments import analyse, explain
from syncd.store.history import (
    AuditFilter,
    events_to_csv,
    events_to_json,
    list_events,
    list_runs,
    membership_history,
)
from syncd.store.segment_history import first_snapshots
from syncd.store.types import utcnow


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
        fail(f"no contact with that email in workspace {settings.workspace}")
    explanation = explain(rules, found[0].profile, utcnow(), profile_id=holdout_identity(found[0]))
    if json_:
        out.print_json(data={**explanation.to_dict(), "membership_history": history})
    else:
        out.print(line(explanation.render_text(), multiline=True))
        print_history(out, history)


def runs(
    config: ConfigOpt = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Sync history, newest first."""
    settings = settings_for(config)
    store = open_db(settings)
    try:
        rows = list_runs(store, settings.workspace, status=status)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    finally:
        store.dispose()
    if json_:
        out.print_json(data=rows)
    else:
        print_runs(out, rows)


def audit(
    config: ConfigOpt = None,
    contact: Annotated[str | None, typer.Option(help="Email of the contact.")] = None,
    segment: Annotated[str | None, typer.Option(help="Segment key.")] = None,
    target: Annotated[str | None, typer.Option(help="Target, e.g. hubspot_list:KEY.")] = None,
    outcome: Annotated[
        str | None, typer.Option(help="applied, rejected, retry or detected.")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", help="Run id.")] = None,
    since: Annotated[str | None, typer.Option(help="Age, such as 1d or 12h.")] = None,
    limit: Annotated[int, typer.Option(help="Most events to show.")] = 1000,
    json_: JsonOpt = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print CSV for a spreadsheet.")] = False,
) -> None:
    """The change log: what changed, when, why, and what failed."""
    settings = settings_for(config)
    try:
        age = parse_duration(since) if since is not None else None
    except ValueError as exc:
        fail(f"--since: {exc}", ExitCode.USAGE)
    filters = AuditFilter(
        contact=contact,
        segment=segment,
        run_id=run,
        since=age,
        target=target,
        outcome=outcome,
        limit=limit,
    )
    store = open_db(settings)
    try:
        rows = list_events(store, settings.workspace, filters, utcnow())
    finally:
        store.dispose()
    if csv_:
        sys.stdout.write(events_to_csv(rows))
    elif json_:
        sys.stdout.write(events_to_json(rows) + "\n")
    else:
        print_events(out, rows)


def ui(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address; default ui.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default ui.port.")] = None,
) -> None:
    """Serve the admin web console (runs, change log, contacts, segments) until SIGTERM."""
    settings = settings_for(config)
    from syncd.ui import console_for, serve

    bind_host, bind_port = host or settings.ui.host, port or settings.ui.port
    with runtime(settings) as rt:
        app_, token = console_for(rt, bind_host)
        err.print(line(f"admin console on http://{bind_host}:{bind_port}/"))
        try:
            serve(app_, bind_host, bind_port, token)
        except ConfigError as exc:
            fail(str(exc), ExitCode.USAGE)


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
