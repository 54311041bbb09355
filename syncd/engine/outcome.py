"""How a run ends: its status, error and advice from what happened, and failures contained.

The rules every entry point of `Syncer` shares: a vendor that failed makes the run `partial`
when the other finished its part; a lost lease makes it `interrupted`; a pull that failed makes
it `partial` with stale data named; and no exception escapes a run without being recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from syncd.engine.apply import ApplyReport
from syncd.engine.run_record import RunResult
from syncd.errors import SyncdError, classify, reason_of
from syncd.events import Event
from syncd.failures import ErrorClass, Reason, stored_advice
from syncd.logs import get_logger
from syncd.store.lease import HeldLease, LeaseLostError
from syncd.store.models import RunStatus

log = get_logger(__name__)


def settle(result: RunResult, report: ApplyReport) -> None:
    """The run's status after apply: a lost lease, a vendor that failed, or leftovers.

    One vendor failing does not hide what the other applied: the report keeps both, the
    status is `partial` when some vendor finished its part (`failed` when none did), and
    the error names the vendor that failed.
    """
    if report.lost:
        interrupted(
            result,
            "the apply lease was lost to another writer; what this run had not confirmed "
            "is left to it",
        )
        return
    if report.failures:
        finished = [api for api in report.apis if api not in report.failures]
        result.status = RunStatus.PARTIAL if finished else RunStatus.FAILED
        # The failure that speaks for the run comes first: its vendor, named at the head of
        # the message, picks the wording of the run's advice.
        failures = sorted(report.failures.items(), key=lambda f: (_SEVERITY[classify(f[1])], f[0]))
        worst = failures[0][1]
        result.error_class = classify(worst)
        result.reason = reason_of(worst)
        result.error = "; ".join(f"{api}: {describe(exc)}" for api, exc in failures)
        return
    if report.stopped:
        result.status = RunStatus.PARTIAL
        return
    troubled = any(c["rejected"] or c["retry"] for c in report.counts.values())
    result.status = RunStatus.PARTIAL if troubled else RunStatus.SUCCESS


#: Which failure speaks for a run when several vendors failed: a person must act first.
_SEVERITY = {
    ErrorClass.CONFIG: 0,
    ErrorClass.SYSTEM: 1,
    ErrorClass.TRANSIENT: 2,
    ErrorClass.REJECTED: 3,
}


def note_stale(result: RunResult, failures: Mapping[str, SyncdError]) -> None:
    """A run that worked from a vendor's stored data is `partial`, naming the failure."""
    if result.status not in (RunStatus.SUCCESS, RunStatus.HELD, RunStatus.PARTIAL):
        return
    if result.status is RunStatus.SUCCESS:
        result.status = RunStatus.PARTIAL
    failed = sorted(failures.items(), key=lambda f: (_SEVERITY[classify(f[1])], f[0]))
    words = "; ".join(
        f"{name}: pull failed, its last stored data was used and removals wait: {describe(exc)}"
        for name, exc in failed
    )
    worst = failed[0][1]
    current = ErrorClass(result.error_class) if result.error_class else None
    if current is None or _SEVERITY[classify(worst)] <= _SEVERITY[current]:
        # The pull's failure speaks for the run (a person must act on a missing audience
        # before the writes that then failed for the same reason mean anything).
        result.error_class = classify(worst)
        result.reason = reason_of(worst)
        result.error = words if result.error is None else f"{words}; {result.error}"
    else:
        result.error = f"{result.error}; {words}"


def interrupted(result: RunResult, why: str) -> None:
    """Mark the run `interrupted` (it lost its lease, or stopped), saying why."""
    result.status = RunStatus.INTERRUPTED
    result.error_class = ErrorClass.TRANSIENT
    result.reason = Reason.INTERRUPTED
    result.error = f"interrupted: {why}"
    log.error(Event.RUN_INTERRUPTED, error=result.error)


def describe(exc: BaseException) -> str:
    """A failure's words for the run row: ours as written, anything else with its type."""
    return str(exc) if isinstance(exc, SyncdError) else repr(exc)


def guarded(result: RunResult, lease: HeldLease | None, body: Callable[[], None]) -> None:
    """Run `body`; any exception marks the run failed (or interrupted) instead of escaping.

    A failure once the lease is lost (the server may have ended a session that stalled past
    the TTL) means the run was overtaken: `interrupted`, not a bug. The log gets one line per
    failure: its class, message and advice. Only a failure inside syncd itself (class
    `system`) is logged with its stack, for the bug report.
    """
    try:
        body()
    except LeaseLostError as exc:
        interrupted(result, exc.message)
    except Exception as exc:
        if lease is not None and not lease.alive():
            interrupted(result, f"the apply lease was lost ({type(exc).__name__})")
            return
        result.status = RunStatus.FAILED
        result.error_class = classify(exc)
        result.reason = reason_of(exc)
        result.error = describe(exc)
        if result.error_class is ErrorClass.SYSTEM:
            log.exception(Event.RUN_FAILED, error_class=result.error_class, reason=result.reason)
        else:
            log.error(
                Event.RUN_FAILED,
                error_class=result.error_class,
                error=result.error,
                reason=result.reason,
                hint=stored_advice(result.reason, result.error_class, result.error),
            )
