"""Admin commands: segments, run history, the change log, undo and the web console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from syncd.cli_common import (
    EXIT_USAGE,
    ConfigOpt,
    JsonOpt,
    app,
    err,
    fail,
    lease_wait,
    load_rules,
    open_db,
    out,
    runtime,
    segments_app,
    settings_for,
)
from syncd.config import parse_duration
from syncd.engine.profiles import iter_contacts
from syncd.errors import ConfigError
from syncd.history import (
    AuditFilter,
    events_to_csv,
    events_to_json,
    list_events,
    list_runs,
    membership_history,
)
from syncd.report import print_events, print_history, print_result, print_runs, run_json
from syncd.safe_text import line
from syncd.segments import analyse, explain
from syncd.store.types import utcnow


@segments_app.command("list")
def segments_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Segment sizes, coverage, overlap and KPIs."""
    settings = settings_for(config)
    rules = load_rules(settings.mappings)
    store = open_db(settings)
    try:
        profiles = [c.profile for c in iter_contacts(store, settings.workspace, rules.fields)]
    finally:
        store.dispose()
    report = analyse(rules, profiles, utcnow())
    if json_:
        out.print_json(data=report.to_dict())
    else:
        out.print(line(report.render_text(), multiline=True))


@segments_app.command("explain")
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
    explanation = explain(rules, found[0].profile, utcnow())
    if json_:
        out.print_json(data={**explanation.to_dict(), "membership_history": history})
    else:
        out.print(line(explanation.render_text(), multiline=True))
        print_history(out, history)


@app.command()
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
        fail(str(exc), EXIT_USAGE)
    finally:
        store.dispose()
    if json_:
        out.print_json(data=rows)
    else:
        print_runs(out, rows)


@app.command()
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
        fail(f"--since: {exc}", EXIT_USAGE)
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


@app.command()
def undo(
    run: Annotated[int, typer.Option("--run", help="The run to revert.")],
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Revert the memberships one run changed, through the normal guards, audited as a run."""
    settings = settings_for(config)
    with runtime(settings) as rt:
        try:
            result = rt.sync_engine.undo(run, wait=lease_wait())
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        if json_:
            out.print_json(data=run_json(result))
        else:
            print_result(out, result)
    raise typer.Exit(result.exit_code)


@app.command()
def ui(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address; default ui.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Port; default ui.port.")] = None,
) -> None:
    """Serve the admin web console (runs, change log, contacts, segments) until SIGTERM."""
    settings = settings_for(config)
    from syncd.daemon import console_app
    from syncd.ui import serve

    bind_host, bind_port = host or settings.ui.host, port or settings.ui.port
    with runtime(settings) as rt:
        app_, token = console_app(rt, bind_host)
        err.print(line(f"admin console on http://{bind_host}:{bind_port}/"))
        try:
            serve(app_, bind_host, bind_port, token)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
