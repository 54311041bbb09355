"""The `syncd` command line: thin typer commands that call into the modules.

Exit codes follow the design: 0 success, 1 failed, 2 usage or configuration error,
3 held by a guard, 4 partial.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine

from syncd import __version__
from syncd.audit import configure_logging
from syncd.config import Settings, load_settings, parse_duration
from syncd.engine.profiles import iter_contacts
from syncd.errors import ConfigError, SyncdError
from syncd.history import (
    AuditFilter,
    events_to_csv,
    events_to_json,
    list_events,
    list_runs,
    membership_history,
)
from syncd.report import (
    plan_json,
    print_events,
    print_history,
    print_plan,
    print_result,
    print_runs,
    run_json,
)
from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY
from syncd.segments import RuleSet, load_mappings
from syncd.store import (
    current_revision,
    head_revision,
    make_engine,
    open_store,
    safe_url,
    upgrade,
)
from syncd.store.types import utcnow

if TYPE_CHECKING:
    from syncd.engine.lease import LeaseInfo
    from syncd.engine.wiring import Runtime

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_HELD, EXIT_PARTIAL = 0, 1, 2, 3, 4

app = typer.Typer(
    name="syncd",
    help="Keeps HubSpot lists and Mailchimp tags in step with customer segments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="The built-in HubSpot + Mailchimp emulator.", no_args_is_help=True)
segments_app = typer.Typer(
    help="Segment sizes, coverage, overlap and explain.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(segments_app, name="segments")
app.add_typer(db_app, name="db")

# Off a terminal (pipes, CI, files) rich would wrap tables at 80 columns: give them room.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="syncd.yaml; default ./syncd.yaml when it exists."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print a one-line reason (plus details) to stderr and exit."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def settings_for(config: Path | None) -> Settings:
    """Load settings from `--config`, ./syncd.yaml, or environment alone; exit 2 on errors."""
    path = config
    if path is None and Path("syncd.yaml").is_file():
        path = Path("syncd.yaml")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def open_db(settings: Settings) -> Engine:
    """The migrated store, or exit 2 saying how to migrate it."""
    try:
        return open_store(settings.database_url)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def load_rules(directory: Path) -> RuleSet:
    """The mappings, or exit 2 listing every problem."""
    try:
        return load_mappings(directory)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


@contextmanager
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Store, rules and connectors for one command; configuration problems exit 2."""
    from syncd.engine.wiring import open_runtime

    try:
        rt = open_runtime(settings)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        yield rt
    finally:
        rt.close()


@contextmanager
def exclusive(rt: Runtime) -> Iterator[None]:
    """Hold the workspace's apply lease, so a manual run never writes beside the daemon."""
    from syncd.engine.lease import APPLY_LEASE_TTL, apply_lease_name, hold, make_holder_id

    def waiting(info: LeaseInfo) -> None:
        err.print(
            f"waiting: {info.holder} is applying to this workspace (lease until "
            f"{info.expires_at:%H:%M:%S} UTC)",
            highlight=False,
        )

    name = apply_lease_name(rt.settings.workspace)
    with hold(rt.store, name, make_holder_id(), APPLY_LEASE_TTL, on_wait=waiting):
        yield


def progress_printer() -> Callable[[str, int], None] | None:
    """Plain progress lines when not on a terminal; None (quiet) on one."""
    return None


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
    out.print("[green]configuration OK[/]")
    failed = False
    rules: RuleSet | None = None
    try:
        rules = load_mappings(settings.mappings)
        out.print(
            f"  mappings {settings.mappings}: {len(rules.stages)} journey stages, "
            f"{len(rules.segments)} segments"
        )
    except ConfigError as exc:
        err.print(f"[red]{exc}[/]", highlight=False, markup=True)
        failed = True
    engine = make_engine(settings.database_url)
    try:
        at = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as one line
        fail(f"cannot open the database {safe_url(settings.database_url)}: {exc}", EXIT_USAGE)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if at == head else f"at {at or 'no schema'}; run `syncd db upgrade`"
    out.print(f"  database {safe_url(settings.database_url)}: {state}")
    for name, section in (("hubspot", settings.hubspot), ("mailchimp", settings.mailchimp)):
        if section is None:
            out.print(f"  {name}: not configured")
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
            out.print(f"  {name}: reachable, credentials accepted")
        except SyncdError as exc:
            err.print(f"  [red]{name}: {exc}[/]", highlight=False, markup=True)
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
        fail(f"migration failed on {safe_url(settings.database_url)}: {exc}")
    out.print(f"database {safe_url(settings.database_url)} is at revision {head_revision()}")


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
    with runtime(settings) as rt, exclusive(rt):
        result = rt.sync_engine.sync(
            trigger="reconcile" if full else "manual",
            full=full,
            dry_run=dry_run,
            progress=progress_printer(),
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
    with runtime(settings) as rt, exclusive(rt):
        try:
            result = rt.sync_engine.release(run)
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
    report = rules.analyse(profiles, utcnow())
    if json_:
        out.print_json(data=report.to_dict())
    else:
        out.print(report.render_text(), highlight=False, markup=False)


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
    explanation = rules.explain(found[0].profile, utcnow())
    if json_:
        out.print_json(data={**explanation.to_dict(), "membership_history": history})
    else:
        out.print(explanation.render_text(), highlight=False, markup=False)
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
    with runtime(settings) as rt, exclusive(rt):
        try:
            result = rt.sync_engine.undo(run)
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
    from syncd.ui import create_app, serve

    token = settings.ui.token.get_secret_value() if settings.ui.token else None
    with runtime(settings) as rt:
        app_ = create_app(
            rt.store,
            settings.workspace,
            rt.rules,
            token=token,
            approve=rt.sync_engine.release,
        )
        bind_host, bind_port = host or settings.ui.host, port or settings.ui.port
        err.print(f"admin console on http://{bind_host}:{bind_port}/", highlight=False)
        try:
            serve(app_, bind_host, bind_port, token)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
