"""What every `syncd` command shares.

Consoles, options and helpers that turn configuration problems into a one-line reason and exit code
2.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from syncd.cli.text import line
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError, ExitCode
from syncd.logs import configure_logging
from syncd.segments import RuleSet, load_mappings
from syncd.store import open_store, safe_url
from syncd.store.models import SyncRun
from syncd.store.types import table_of

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

#: The largest run id a database can hold (a signed 64-bit integer); larger ones are refused
#: as a usage error instead of overflowing inside the driver.
RUN_ID_MAX = 2**63 - 1


def run_id_option(help_text: str) -> Any:
    """A `--run ID` option: a positive id a database can hold (bigger is a usage error).

    Use as `run: Annotated[int, run_id_option("The run to revert.")]`; check that the run
    exists with `require_run` before building anything else.
    """
    return typer.Option("--run", min=1, max=RUN_ID_MAX, help=help_text)


LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="Most rows to show.")]
OffsetOpt = Annotated[
    int, typer.Option("--offset", min=0, help="Rows to skip first (for the next page).")
]


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


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """`did you mean 'x'?` for the closest of `known` to `value`, or an empty string."""
    close = difflib.get_close_matches(value, list(dict.fromkeys(known)), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def choose(value: str, known: Iterable[str], *, option: str, what: str) -> str:
    """`value` when it is one of `known`; otherwise a usage error with "did you mean".

    Args:
        value: What the person typed.
        known: What exists (statuses, outcomes, segments, targets).
        option: The option's name, for the message (`--status`).
        what: What the values are, for the message (`run status`).

    Raises:
        ConfigError: Unknown value (exit 2 through the guard), naming the nearest and, when
            there are few, all of them.
    """
    options = list(dict.fromkeys(known))
    if value in options:
        return value
    hint = did_you_mean(value, options)
    if not hint and options:
        shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
        hint = f"use one of: {shown}"
    elif not options:
        hint = "there are none yet in this workspace"
    raise ConfigError(f"{option}: unknown {what} {value!r}", hint=hint or None)


def require_database(url: str) -> None:
    """Refuse a SQLite database file that does not exist, instead of creating an empty one.

    Only `syncd db upgrade` and `syncd demo` create databases; every other command reading a
    mistyped path would otherwise leave an empty file behind and then call it unmigrated.

    Raises:
        ConfigError: The file is missing (exit 2 through the guard).
    """
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:") or Path(path).exists():
        return
    raise ConfigError(
        f"database file {path} does not exist ({safe_url(url)})",
        hint="check database_url, or create it with `syncd db upgrade`",
    )


def require_run(db: Engine, workspace: str, run_id: int) -> None:
    """Refuse a run id the workspace does not have, before anything else is done with it.

    Raises:
        ConfigError: No such run (exit 2 through the guard).
    """
    r = table_of(SyncRun).c
    with db.connect() as conn:
        found = conn.execute(
            select(r.id).where(r.workspace == workspace, r.id == run_id)
        ).scalar_one_or_none()
        if found is not None:
            return
        last = conn.execute(
            select(r.id).where(r.workspace == workspace).order_by(r.id.desc()).limit(1)
        ).scalar_one_or_none()
    known = f"the newest is {last}" if last is not None else "it has no runs yet"
    raise ConfigError(
        f"--run: no run {run_id} in workspace {workspace} ({known})",
        hint="`syncd runs` lists them",
    )


def settings_for(config: Path | None) -> Settings:
    """Load settings from `--config`, ./syncd.yaml, or environment alone; exit 2 on errors."""
    path = config
    if path is not None and path.is_dir():
        fail(f"--config {path}: is a directory; give the YAML file", ExitCode.USAGE)
    if path is None and Path("syncd.yaml").is_file():
        path = Path("syncd.yaml")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    configure_logging(settings.logging.level, settings.logging.format)
    return settings


def open_db(settings: Settings) -> Engine:
    """The migrated store, or exit 2 saying how to migrate it; never creates a database."""
    try:
        require_database(settings.database_url)
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
        require_database(settings.database_url)
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
