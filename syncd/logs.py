"""Structured logging: structlog configured once, with run context and redaction.

Every log line, from syncd or from a library through the standard `logging` module, passes
the same redaction processor last before rendering, so a token or an email address cannot
reach the output, not even inside a formatted exception. Output is JSON when stderr is not a
terminal (containers, CI, files) and human-friendly console lines when it is.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from syncd.redact import REDACTOR

LogFormat = Literal["auto", "json", "console"]


def redact_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: scrub secrets and emails from every key and value."""
    redacted: MutableMapping[str, Any] = REDACTOR.value(dict(event_dict))
    return dict(redacted)


def _processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        redact_event,
    ]


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A handler that writes to whatever `sys.stderr` is at the moment of each line.

    A progress display on the terminal (rich's live bars) swaps `sys.stderr` for a proxy that
    prints lines above the bars; holding the stream from start-up would write underneath them
    and garble the display. Logs never go to stdout, which carries data (tables, JSON, CSV).
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current standard error."""


def configure_logging(
    level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library's logging once per process.

    Args:
        level: Minimum level name (`debug`, `info`, `warning`, `error`).
        fmt: `json`, `console`, or `auto` (console when `stream` is a terminal).
        stream: Where lines go; standard error by default.
    """
    out = stream if stream is not None else sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    shared = _processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A logger bound to `name`; safe to call before `configure_logging`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def run_context(**values: Any) -> Iterator[None]:
    """Bind run context (run id, connector, ...) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
