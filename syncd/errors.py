"""Error classes, grouped by what the operator has to do about them.

Every failure syncd meets is turned into exactly one of these classes, once, as close to
its cause as possible, and carries the reason code of `syncd.failures` that says what
happened. Class and code are stored on audit rows and run rows, so an admin can tell from the
sync log alone whether a person must act, whether waiting will help, or whether a single
record was refused, and read the advice for it.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from syncd.failures import ErrorClass, Reason, advice, class_of


class ExitCode(enum.IntEnum):
    """What `syncd` exits with: the command-line contract scripts and schedulers rely on."""

    OK = 0
    FAILED = 1  # also a run interrupted by losing its lease
    USAGE = 2  # usage or configuration error: a person must act
    HELD = 3  # held by a safety guard, waiting for a decision
    PARTIAL = 4  # some records rejected or left for retry, or one vendor failed


class SyncdError(Exception):
    """Base of every error syncd raises on purpose.

    Args:
        message: One line for a person; never contains a secret or an email address.
        reason: What happened (stored with the failure); the class's general reason if None.
        hint: Optional one-line advice, shown with the message (`error_for` takes it from the
            failure table).
    """

    error_class: ClassVar[ErrorClass] = ErrorClass.SYSTEM
    default_reason: ClassVar[Reason] = Reason.INTERNAL

    def __init__(
        self, message: str, *, reason: Reason | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
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
    default_reason = Reason.CONFIG_INVALID

    def __init__(
        self,
        message: str,
        *,
        problems: list[str] | None = None,
        reason: Reason | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, hint=hint)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class DatabaseNotMigratedError(ConfigError):
    """The database schema is older than this version of syncd; `syncd db upgrade` fixes it."""

    default_reason = Reason.NOT_MIGRATED


class TransientError(SyncdError):
    """Waiting helps: rate limits, timeouts, 5xx. Retried now, and left in the outbox if not."""

    error_class = ErrorClass.TRANSIENT
    default_reason = Reason.TEMPORARY_FAILURE

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        reason: Reason | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, hint=hint)
        self.retry_after_s = retry_after_s


class RejectedRecordError(SyncdError):
    """The vendor refused one record; skip it, record the vendor's reason, do not retry forever."""

    error_class = ErrorClass.REJECTED
    default_reason = Reason.RECORD_REFUSED


class InternalError(SyncdError):
    """A bug in syncd or an API answer it does not understand; report it."""

    error_class = ErrorClass.SYSTEM
    default_reason = Reason.INTERNAL


_CLASSES: dict[ErrorClass, type[SyncdError]] = {
    ErrorClass.CONFIG: ConfigError,
    ErrorClass.TRANSIENT: TransientError,
    ErrorClass.REJECTED: RejectedRecordError,
    ErrorClass.SYSTEM: InternalError,
}


def error_for(reason: Reason, message: str, *, api: str | None = None) -> SyncdError:
    """The error of the failure table's class for `reason`.

    A configuration error carries the table's advice as its hint, since a person reads it
    on one line; the others get their advice where they are shown (`syncd.failures`).

    Args:
        reason: What happened.
        message: One line for a person.
        api: The vendor it is about, for vendor-specific advice.
    """
    error_class = class_of(reason)
    hint = advice(reason, api) if error_class is ErrorClass.CONFIG else None
    return _CLASSES[error_class](message, reason=reason, hint=hint)


def classify(exc: BaseException) -> ErrorClass:
    """Return the operator class of any exception; unknown exceptions are bugs."""
    if isinstance(exc, SyncdError):
        return exc.error_class
    return ErrorClass.SYSTEM


def reason_of(exc: BaseException) -> Reason:
    """Return the reason code of any exception; unknown exceptions are internal errors."""
    if isinstance(exc, SyncdError):
        return exc.reason
    return Reason.INTERNAL
