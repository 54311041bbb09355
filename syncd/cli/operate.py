"""Commands that set syncd up and keep it running.

`check`, `db upgrade`, `demo`, `sandbox serve` and `run` (the daemon).
"""

from __future__ import annotations

from typing import Annotated

import typer

from syncd.cli.common import (
    ConfigOpt,
    err,
    fail,
    one_line,
    out,
    settings_for,
)
from syncd.cli.refine import mapping_warnings
from syncd.cli.text import line
from syncd.config import Settings
from syncd.errors import ConfigError, ExitCode, SyncdError
from syncd.segments import RuleSet, load_mappings
from syncd.store import current_revision, head_revision, make_engine, safe_url, upgrade


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
    db = make_engine(settings.database_url)
    try:
        at = current_revision(db)
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as one line
        where = safe_url(settings.database_url)
        fail(f"cannot open the database {where}: {one_line(exc)}", ExitCode.USAGE)
    finally:
        db.dispose()
    head = head_revision()
    state = "up to date" if at == head else f"at {at or 'no schema'}; run `syncd db upgrade`"
    out.print(line(f"  database {safe_url(settings.database_url)}: {state}"))
    if rules is not None and at == head:
        for warning in mapping_warnings(settings, rules):
            out.print(line(("  warning: ", "yellow"), warning))
    for name, section in (("hubspot", settings.hubspot), ("mailchimp", settings.mailchimp)):
        if section is None:
            out.print(line(f"  {name}: not configured"))
    if probe and rules is not None and (settings.hubspot or settings.mailchimp):
        failed = _probe(settings, rules) or failed
    if failed:
        raise typer.Exit(ExitCode.USAGE)


def _probe(settings: Settings, rules: RuleSet) -> bool:
    """Call each configured API once; returns True when any refused."""
    from syncd.runtime import build_connectors

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


def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply the database migrations this version of syncd ships."""
    settings = settings_for(config)
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - reported as one line, exit 1
        fail(f"migration failed on {safe_url(settings.database_url)}: {one_line(exc)}")
    out.print(line(f"database {safe_url(settings.database_url)} is at revision {head_revision()}"))


def demo(
    contacts: Annotated[int, typer.Option(help="Demo contacts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the demo data.")] = 7,
) -> None:
    """Start the sandbox, run one full sync into ./syncd-demo.db and summarise it."""
    from syncd.cli.demo import run_demo

    raise typer.Exit(run_demo(out, contacts=contacts, seed=seed))


def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    contacts: Annotated[int, typer.Option(help="Contacts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the data.")] = 7,
    hubspot_token: Annotated[
        str | None,
        typer.Option(help="Bearer token to accept [default: sandbox-hubspot-token]."),
    ] = None,
    mailchimp_key: Annotated[
        str | None,
        typer.Option(help="API key to accept [default: sandbox-mailchimp-key-us1]."),
    ] = None,
) -> None:
    """Run the HubSpot + Mailchimp emulator in the foreground until SIGTERM."""
    # Imported here, not at the top: no other command loads the emulator (import contract).
    from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY, serve_forever

    token = hubspot_token or DEFAULT_HUBSPOT_TOKEN
    key = mailchimp_key or DEFAULT_MAILCHIMP_KEY
    serve_forever(host, port, contacts, seed, token, key)


def run(config: ConfigOpt = None) -> None:
    """The daemon: scheduled incremental syncs and nightly reconcile until SIGTERM."""
    settings = settings_for(config)
    from syncd.daemon import serve

    try:
        serve(settings)
    except SyncdError as exc:
        fail(str(exc), ExitCode.USAGE)


def register(app: typer.Typer) -> None:
    """Add these commands (and the `db` and `sandbox` groups) to the `syncd` app."""
    app.command()(check)
    app.command()(demo)
    app.command("run")(run)
    db = typer.Typer(help="Database schema.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    app.add_typer(db, name="db")
    sandbox = typer.Typer(help="The built-in HubSpot + Mailchimp emulator.", no_args_is_help=True)
    sandbox.command("serve")(sandbox_serve)
    app.add_typer(sandbox, name="sandbox")
