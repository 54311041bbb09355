"""The `syncd` command line: thin typer commands that call into the modules.

Commands are grouped by what they do and registered here, explicitly, in the order `--help`
lists them: `sync` (sync, plan, apply, undo), `inspect` (runs, audit, segments, ui) and
`operate` (check, db, demo, sandbox, run). Exit codes follow the design: 0 success, 1 failed,
2 usage or configuration error, 3 held by a guard, 4 partial. `syncd.cli.guard` turns any error
a command lets through into one line and its exit code.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from syncd import __version__
from syncd.cli import alerts, inspect, operate, refine, sync
from syncd.cli.common import out
from syncd.cli.guard import GuardedGroup, set_debug


def _version(value: bool) -> None:
    if value:
        out.print(f"syncd {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of any error (for bug reports)."),
    ] = False,
) -> None:
    """Keeps HubSpot lists and Mailchimp tags in step with customer segments."""
    set_debug(debug)


def make_app() -> typer.Typer:
    """The `syncd` app with every command registered."""
    app = typer.Typer(
        name="syncd",
        cls=GuardedGroup,
        help="Keeps HubSpot lists and Mailchimp tags in step with customer segments.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    sync.register(app)
    inspect.register(app)
    operate.register(app)
    refine.register(app)
    alerts.register(app)
    return app


app = make_app()


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
