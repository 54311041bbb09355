"""Error classes, grouped by what the operator has to do about them.

Every failure syncd meets is turned into exactly one of these classes, once, as close to
its cause as possible. The class is stored on audit rows and run rows, so an admin can tell
from the sync log alone whether a person must act, whether waiting will help, or whether a
single record was refused.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What `syncd` exits with: the command-line contract scripts and schedulers rely on."""

    OK = 0
    FAILED = 1  # also a run interrupted by losing its lease
    USAGE = 2  # usage or configuration error: a person must act
    HELD = 3  # held by a safety guard, waiting for a decision
    PARTIAL = 4  # some records rejected or left for retry, or one vendor failed


class ErrorClass(enum.StrEnum):
    """What the operator must do; the value is what the store and the logs carry."""

    CONFIG = "config"
    TRANSIENT = "transient"
    REJECTED = "rejected"
    SYSTEM = "system"


class SyncdError(Exception):
    """Base of every error syncd raises on purpose.

    Args:
        message: One line for a person; never contains a secret or an email address.
        hint: Optional one-line advice on what to do next.
    """

    error_class: ErrorClass = ErrorClass.SYSTEM

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class ConfigError(SyncdError):
    """A person must act: bad config, bad credentials, missing scope, bad mappings.

    Args:
        message: Summary line.
        problems: Each individual problem, already naming its file and key path.
        hint: Optional advice.
    """

    error_class = ErrorClass.CONFIG

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class DatabaseNotMigratedError(ConfigError):
    """The database schema is older than this version of syncd; `syncd db upgrade` fixes it."""


class TransientError(SyncdError):
    """Waiting helps: rate limits, timeouts, 5xx. Retried now, and left in the outbox if not."""

    error_class = ErrorClass.TRANSIENT

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class RejectedRecordError(SyncdError):
    """The vendor refused one record; skip it, record the vendor's reason, do not retry forever."""

    error_class = ErrorClass.REJECTED


class InternalError(SyncdError):
    """A bug in syncd or an API answer it does not understand; report it."""

    error_class = ErrorClass.SYSTEM


def classify(exc: BaseException) -> ErrorClass:
    """Return the operator class of any exception; unknown exceptions are bugs."""
    if isinstance(exc, SyncdError):
        return exc.error_class
    return ErrorClass.SYSTEM
