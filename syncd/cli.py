"""The `syncd` command line: thin typer commands that call into the modules.

Exit codes follow the design: 0 success, 1 failed, 2 usage or configuration error,
3 held by a guard, 4 partial.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

import syncd.cli_admin  # noqa: F401 - registers the admin commands on `app`
from syncd import __version__
from syncd.cli_common import (
    EXIT_USAGE,
    ConfigOpt,
    JsonOpt,
    app,
    db_app,
    err,
    fail,
    lease_wait,
    load_rules,
    one_line,
    out,
    runtime,
    sandbox_app,
    settings_for,
)
from syncd.config import Settings
from syncd.errors import ConfigError, SyncdError
from syncd.progress import progress
from syncd.report import (
    plan_json,
    print_plan,
    print_result,
    run_json,
)
from syncd.safe_text import line
from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY
from syncd.segments import RuleSet, load_mappings
from syncd.store import (
    current_revision,
    head_revision,
    make_engine,
    safe_url,
    upgrade,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"syncd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Keeps HubSpot lists and Mailchimp tags in step with customer segments."""


@app.command()
def check(
    config: ConfigOpt = None,
    probe: Annotated[
        bool, typer.Option("--probe/--no-probe", help="Call both APIs to test credentials.")
    ] = True,
) -> None:
    """Validate config and mappings (every problem at once), the database, and the APIs."""
    settings = settings_for(config)
    out.print(line(("configuration OK", "green")))
    failed = False
    rules: RuleSet | None = None
    try:
        rules = load_mappings(settings.mappings)
        out.print(
            line(
                f"  mappings {settings.mappings}: {len(rules.stages)} journey stages, "
                f"{len(rules.segments)} segments"
            )
        )
    except ConfigError as exc:
        err.print(line((str(exc), "red"), multiline=True))
        failed = True
    engine = make_engine(settings.database_url)
    try:
        at = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as one line
        where = safe_url(settings.database_url)
        fail(f"cannot open the database {where}: {one_line(exc)}", EXIT_USAGE)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if at == head else f"at {at or 'no schema'}; run `syncd db upgrade`"
    out.print(line(f"  database {safe_url(settings.database_url)}: {state}"))
    for name, section in (("hubspot", settings.hubspot), ("mailchimp", settings.mailchimp)):
        if section is None:
            out.print(line(f"  {name}: not configured"))
    if probe and rules is not None and (settings.hubspot or settings.mailchimp):
        failed = _probe(settings, rules) or failed
    if failed:
        raise typer.Exit(EXIT_USAGE)


def _probe(settings: Settings, rules: RuleSet) -> bool:
    """Call each configured API once; returns True when any refused."""
    from syncd.engine.wiring import build_connectors

    failed = False
    for name, connector in build_connectors(settings, rules).items():
        try:
            connector.check()
            out.print(line(f"  {name}: reachable, credentials accepted"))
        except SyncdError as exc:
            err.print(line((f"  {name}: {exc}", "red")))
            failed = True
        finally:
            connector.close()
    return failed


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply the database migrations this version of syncd ships."""
    settings = settings_for(config)
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - reported as one line, exit 1
        fail(f"migration failed on {safe_url(settings.database_url)}: {one_line(exc)}")
    out.print(line(f"database {safe_url(settings.database_url)} is at revision {head_revision()}"))


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(help="Demo contacts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the demo data.")] = 7,
) -> None:
    """Start the sandbox, run one full sync into ./syncd-demo.db and summarise it."""
    from syncd.demo import run_demo

    raise typer.Exit(run_demo(out, contacts=contacts, seed=seed))


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    contacts: Annotated[int, typer.Option(help="Contacts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the data.")] = 7,
    hubspot_token: Annotated[
        str, typer.Option(help="Bearer token to accept.")
    ] = DEFAULT_HUBSPOT_TOKEN,
    mailchimp_key: Annotated[str, typer.Option(help="API key to accept.")] = DEFAULT_MAILCHIMP_KEY,
) -> None:
    """Run the HubSpot + Mailchimp emulator in the foreground until SIGTERM."""
    from syncd.sandbox import serve_forever

    serve_forever(host, port, contacts, seed, hubspot_token, mailchimp_key)


@app.command()
def sync(
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Full pull and reconcile.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run one sync cycle."""
    settings = settings_for(config)
    with runtime(settings) as rt, progress(err) as on_progress:
        result = rt.sync_engine.sync(
            trigger="reconcile" if full else "manual",
            full=full,
            dry_run=dry_run,
            progress=on_progress,
            wait=lease_wait(),
        )
        if json_:
            payload = plan_json(rt.store, result) if dry_run else run_json(result)
            out.print_json(data=payload)
        elif dry_run:
            print_plan(out, rt.store, result)
        else:
            print_result(out, result)
    raise typer.Exit(result.exit_code)


@app.command()
def plan(
    config: ConfigOpt = None,
    mappings: Annotated[Path | None, typer.Option(help="Preview other mappings.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show what would change, per target."""
    settings = settings_for(config)
    with runtime(settings) as rt:
        rules = load_rules(mappings) if mappings is not None else None
        result = rt.sync_engine.plan_only(rules)
        if json_:
            out.print_json(data=plan_json(rt.store, result))
        else:
            print_plan(out, rt.store, result)


@app.command()
def apply(
    run: Annotated[int, typer.Option("--run", help="The held run to release.")],
    config: ConfigOpt = None,
) -> None:
    """Release a run held by a guard."""
    settings = settings_for(config)
    with runtime(settings) as rt:
        try:
            result = rt.sync_engine.release(run, wait=lease_wait())
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        print_result(out, result)
    raise typer.Exit(result.exit_code)


@app.command("run")
def run_daemon(config: ConfigOpt = None) -> None:
    """The daemon: scheduled incremental syncs and nightly reconcile until SIGTERM."""
    settings = settings_for(config)
    from syncd.daemon import run_forever

    try:
        run_forever(settings)
    except SyncdError as exc:
        fail(str(exc), EXIT_USAGE)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
