"""What every `syncd` command shares.

Consoles, options and helpers that turn configuration problems into a one-line reason and exit code
2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from syncd.cli.text import line
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError, ExitCode
from syncd.logs import configure_logging
from syncd.segments import RuleSet, load_mappings
from syncd.store import open_store

if TYPE_CHECKING:
    from syncd.engine.syncer import LeaseWait
    from syncd.runtime import Runtime
    from syncd.store.lease import LeaseInfo


# Off a terminal (pipes, CI, files) rich would wrap tables at 80 columns: give them room.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="syncd.yaml; default ./syncd.yaml when it exists."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> NoReturn:
    """Print a one-line reason (plus details) to stderr and exit.

    The message often carries a vendor's or the store's words, so it is printed literally
    (`syncd.cli.text`); its own newlines (a list of problems) are kept.
    """
    err.print(line(("error:", "bold red"), " ", message, multiline=True), soft_wrap=True)
    raise typer.Exit(code)


def one_line(exc: BaseException) -> str:
    """The first line of what went wrong, for errors whose text is a multi-line dump.

    A database driver's error renders as its message, a DETAIL line, the SQL and a link; the
    person running a command needs the first line, the rest belongs in a debug log.
    """
    cause: object = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [text.strip() for text in str(cause).splitlines() if text.strip()]
    return lines[0] if lines else type(exc).__name__


def settings_for(config: Path | None) -> Settings:
    """Load settings from `--config`, ./syncd.yaml, or environment alone; exit 2 on errors."""
    path = config
    if path is None and Path("syncd.yaml").is_file():
        path = Path("syncd.yaml")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def open_db(settings: Settings) -> Engine:
    """The migrated store, or exit 2 saying how to migrate it."""
    try:
        return open_store(settings.database_url)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)


def load_rules(directory: Path) -> RuleSet:
    """The mappings, or exit 2 listing every problem."""
    try:
        return load_mappings(directory)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)


@contextmanager
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Store, rules and connectors for one command; configuration problems exit 2."""
    from syncd.runtime import open_runtime

    try:
        rt = open_runtime(settings)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    try:
        yield rt
    finally:
        rt.close()


def lease_wait() -> LeaseWait:
    """Wait for the workspace's apply lease as long as it takes, saying who holds it.

    The engine takes the lease itself for every write (`sync`, `apply`, `undo`), so a manual
    run never writes beside the daemon or the console.
    """
    from syncd.engine.syncer import LeaseWait

    def waiting(info: LeaseInfo) -> None:
        err.print(
            line(
                "waiting: ",
                info.holder,
                f" is applying to this workspace (lease until {info.expires_at:%H:%M:%S} UTC)",
            ),
            highlight=False,
        )

    return LeaseWait(on_wait=waiting)
