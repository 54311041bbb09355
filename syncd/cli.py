"""The `syncd` command line: thin typer commands that call into the modules.

Exit codes follow the design: 0 success, 1 failed, 2 usage or configuration error,
3 held by a guard, 4 partial.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from syncd import __version__
from syncd.audit import configure_logging
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError, SyncdError
from syncd.store import current_revision, head_revision, make_engine, safe_url, upgrade

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

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

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


def not_implemented(command: str) -> NoReturn:
    """Refuse a planned command honestly: exit 2, saying so."""
    fail(f"`syncd {command}` is not implemented yet (planned; see README)", EXIT_USAGE)


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
def check(config: ConfigOpt = None) -> None:
    """Validate the configuration (all problems at once) and report the database state."""
    settings = settings_for(config)
    out.print("[green]configuration OK[/]")
    for name, section in (("hubspot", settings.hubspot), ("mailchimp", settings.mailchimp)):
        out.print(f"  {name}: {'configured' if section else 'not configured'}")
    engine = make_engine(settings.database_url)
    try:
        at = current_revision(engine)
    except SyncdError as exc:
        fail(str(exc), EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as one line
        fail(f"cannot open the database {safe_url(settings.database_url)}: {exc}", EXIT_USAGE)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if at == head else f"at {at or 'no schema'}; run `syncd db upgrade`"
    out.print(f"  database {safe_url(settings.database_url)}: {state}")


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
    not_implemented("demo")


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    contacts: Annotated[int, typer.Option(help="Contacts to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for the data.")] = 7,
    hubspot_token: Annotated[str, typer.Option(help="Bearer token to accept.")] = (
        "sandbox-hubspot-token"  # noqa: S107 - the sandbox's public default credential
    ),
    mailchimp_key: Annotated[str, typer.Option(help="API key to accept.")] = (
        "sandbox-mailchimp-key-us1"
    ),
) -> None:
    """Run the HubSpot + Mailchimp emulator in the foreground until SIGTERM."""
    not_implemented("sandbox serve")


@app.command()
def sync(
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Full pull and reconcile.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run one sync cycle."""
    not_implemented("sync")


@app.command()
def plan(
    config: ConfigOpt = None,
    mappings: Annotated[Path | None, typer.Option(help="Preview other mappings.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show what would change, per target."""
    not_implemented("plan")


@app.command()
def apply(
    run: Annotated[int, typer.Option("--run", help="The held run to release.")],
    config: ConfigOpt = None,
) -> None:
    """Release a run held by a guard."""
    not_implemented("apply")


@app.command("run")
def run_daemon(config: ConfigOpt = None) -> None:
    """The daemon: scheduled incremental syncs and nightly reconcile until SIGTERM."""
    not_implemented("run")


@segments_app.command("list")
def segments_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Segment sizes, coverage, overlap and KPIs."""
    not_implemented("segments list")


@segments_app.command("explain")
def segments_explain(email: str, config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Why one contact is in or out of each segment."""
    not_implemented("segments explain")


@app.command()
def runs(
    config: ConfigOpt = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Sync history, newest first."""
    not_implemented("runs")


@app.command()
def audit(
    config: ConfigOpt = None,
    contact: Annotated[str | None, typer.Option(help="Email of the contact.")] = None,
    segment: Annotated[str | None, typer.Option(help="Segment key.")] = None,
    run: Annotated[int | None, typer.Option("--run", help="Run id.")] = None,
    since: Annotated[str | None, typer.Option(help="Age, such as 1d or 12h.")] = None,
    json_: JsonOpt = False,
) -> None:
    """The change log."""
    not_implemented("audit")


@app.command()
def undo(
    run: Annotated[int, typer.Option("--run", help="The run to revert.")],
    config: ConfigOpt = None,
) -> None:
    """Revert the memberships one run changed."""
    not_implemented("undo")


@app.command()
def ui(config: ConfigOpt = None) -> None:
    """Serve the admin web console."""
    not_implemented("ui")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
