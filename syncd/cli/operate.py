"""Commands that set syncd up and keep it running.

`check`, `db upgrade`, `demo`, `sandbox serve` and `run` (the daemon).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Annotated

import typer

from syncd.cli.check import check_all, print_verdicts
from syncd.cli.common import (
    ConfigOpt,
    err,
    fail,
    one_line,
    out,
    require_database,
    settings_for,
)
from syncd.cli.emulator import DEFAULT_HOST, DEFAULT_PORT, serve_until_stopped
from syncd.cli.text import line
from syncd.errors import ExitCode, SyncdError
from syncd.store import head_revision, safe_url, upgrade


def check(
    config: ConfigOpt = None,
    probe: Annotated[
        bool, typer.Option("--probe/--no-probe", help="Call both APIs to test credentials.")
    ] = True,
) -> None:
    """Validate config, mappings, the database and each API, with a verdict for each."""
    settings = settings_for(config)
    path = (
        config
        if config is not None
        else (Path("syncd.yaml") if Path("syncd.yaml").is_file() else None)
    )
    if print_verdicts(out, err, check_all(settings, path, probe=probe)):
        raise typer.Exit(ExitCode.USAGE)


def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply the database migrations this version of syncd ships."""
    settings = settings_for(config)
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - reported as one line, exit 1
        fail(f"migration failed on {safe_url(settings.database_url)}: {one_line(exc)}")
    out.print(line(f"database {safe_url(settings.database_url)} is at revision {head_revision()}"))


PortOpt = Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")]
ContactsOpt = Annotated[int, typer.Option(min=1, max=1_000_000, help="Contacts to generate.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the generated data.")]


def demo(
    contacts: ContactsOpt = 2000,
    seed: SeedOpt = 7,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Keep the emulator running afterwards, where syncd-demo.yaml points."
        ),
    ] = False,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="The emulator's port with --serve.")
    ] = DEFAULT_PORT,
) -> None:
    """Start the sandbox, run one full sync into ./syncd-demo.db and summarise it."""
    from syncd.cli.demo import run_demo

    raise typer.Exit(run_demo(out, contacts=contacts, seed=seed, serve=serve, port=port))


def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    contacts: ContactsOpt = 2000,
    seed: SeedOpt = 7,
    hubspot_token: Annotated[
        str | None,
        typer.Option(help="Bearer token to accept [default: sandbox-hubspot-token]."),
    ] = None,
    mailchimp_key: Annotated[
        str | None,
        typer.Option(help="API key to accept [default: sandbox-mailchimp-key-us1]."),
    ] = None,
    latency_ms: Annotated[
        float,
        typer.Option(min=0, max=60_000, help="Added to every vendor request, as a network would."),
    ] = 0,
) -> None:
    """Run the HubSpot + Mailchimp emulator in the foreground until SIGTERM.

    Prints the settings (environment variables or syncd.yaml keys) that point syncd at it.
    """
    # Imported here, not at the top: no other command loads the emulator (import contract).
    from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY, FaultConfig, Sandbox

    try:
        sb = Sandbox(
            contacts,
            seed,
            host=host,
            port=port,
            hubspot_token=hubspot_token or DEFAULT_HUBSPOT_TOKEN,
            mailchimp_key=mailchimp_key or DEFAULT_MAILCHIMP_KEY,
            faults=FaultConfig(latency_ms=latency_ms) if latency_ms else None,
        )
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitCode.USAGE)
    serve_until_stopped(out, sb)


def run(config: ConfigOpt = None) -> None:
    """The daemon: scheduled incremental syncs and nightly reconcile until SIGTERM."""
    settings = settings_for(config)
    from syncd.daemon import serve

    require_database(settings.database_url)
    try:
        serve(settings)
    except SyncdError as exc:
        fail(str(exc), ExitCode.USAGE)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        where = f"{settings.metrics.host}:{settings.metrics.port}"
        fail(
            f"cannot listen on {where} for /healthz and /metrics: {exc.strerror or exc} "
            "(set metrics.port, env SYNCD_METRICS__PORT, to a free port)",
            ExitCode.USAGE,
        )


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
