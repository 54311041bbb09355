"""The one place where an exception becomes what a person reads: one line and an exit code.

Every `syncd` command runs inside `GuardedGroup`, the root click group, so no command has to
remember to catch anything:

Typer vendors click (`typer._click`), so its exception classes are imported from there.

- a mistake in the command line (unknown option, a value out of range) is one line naming
  the option and pointing at `--help`, exit 2, never click's boxed usage panel;
- an error syncd raised on purpose (`syncd.errors.SyncdError`) is its message on one line,
  with the exit code of its class (a configuration problem is 2);
- the environment refusing (a busy port, a file that cannot be written, a database that
  cannot be reached) is one line, exit 2;
- anything else is a bug: one line saying what, and one asking for a report.

`--debug` (or `SYNCD_DEBUG=1`) lets every exception through with its traceback, for the report.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import OperationalError
from typer._click import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from syncd.cli.common import err, one_line
from syncd.cli.text import line
from syncd.errors import ExitCode, SyncdError
from syncd.failures import ErrorClass

#: Where bug reports go; printed under an internal error.
REPORT_LINE = (
    "this is a bug in syncd: please report it with the output of the same command run "
    "with --debug (it prints the traceback)"
)


def _env_debug() -> bool:
    return os.environ.get("SYNCD_DEBUG", "") not in ("", "0", "false")


_state = {"debug": _env_debug()}

#: OS errors that are the environment refusing, not a bug in syncd.
_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
        errno.EPERM,
        errno.ENOENT,
        errno.ENOSPC,
        errno.EROFS,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ECONNREFUSED,
    }
)


def set_debug(value: bool) -> None:
    """Show tracebacks (`--debug`); called by the root callback before any command runs."""
    _state["debug"] = value or _env_debug()


def debugging() -> bool:
    """Whether `--debug` or `SYNCD_DEBUG` asked for tracebacks."""
    return _state["debug"]


def _say(*pieces: str | tuple[str, str]) -> None:
    err.print(line(("error:", "bold red"), " ", *pieces, multiline=True), soft_wrap=True)


def _exit_code_of(exc: SyncdError) -> ExitCode:
    return ExitCode.USAGE if exc.error_class is ErrorClass.CONFIG else ExitCode.FAILED


def report(exc: BaseException) -> int:
    """Print `exc` for a person and return the exit code it means.

    Args:
        exc: Any exception a command let through.

    Returns:
        The exit code (`syncd.errors.ExitCode`).
    """
    if isinstance(exc, SyncdError):
        _say(str(exc))
        if exc.error_class is ErrorClass.SYSTEM:
            err.print(line(REPORT_LINE), soft_wrap=True)
        return int(_exit_code_of(exc))
    if isinstance(exc, OperationalError):
        _say(f"the database refused: {one_line(exc)}")
        return int(ExitCode.USAGE)
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        _say(f"{exc.strerror or exc}{where}")
        return int(ExitCode.USAGE)
    if isinstance(exc, RecursionError):
        _say("input nested too deeply to process")
        return int(ExitCode.USAGE)
    _say(f"internal error: {type(exc).__name__}: {one_line(exc)}")
    err.print(line(REPORT_LINE), soft_wrap=True)
    return int(ExitCode.FAILED)


def _usage(exc: ClickException) -> int:
    """One line for a command-line mistake, naming the command's `--help`.

    A group called without a command (`syncd`, `syncd db`) has already printed its help;
    there is no mistake to add to it.
    """
    message = exc.format_message()
    if isinstance(exc, NoArgsIsHelpError) and not message.strip():
        return int(exc.exit_code)
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    _say(f"{message}{where}")
    return int(exc.exit_code)


class GuardedGroup(TyperGroup):
    """The root group: runs the command and turns whatever escapes it into one line."""

    def invoke(self, ctx: Context) -> Any:
        """Run the command; let exits through, report every other exception."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            if debugging():
                raise
            raise typer.Exit(report(exc)) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's `main`, with usage errors as one line instead of a boxed panel."""
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except ClickException as exc:
            code = _usage(exc)
        except typer.Abort:
            err.print(line("aborted"))
            code = 1
        except KeyboardInterrupt:
            err.print(line("interrupted"))
            code = 130
        else:
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            _exit(code)
        return code


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.exit(code)
