"""What the remote said about outbox rows, and how a window of batches is written down.

`ItemOutcome` is a writer's answer for one row; `Tally` turns the answers of every batch of
an apply window into what one transaction stores: ledger rows, outbox states, audit events,
and the per-target counts the run reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from syncd.engine.ledger import OutboxItem
from syncd.failures import ErrorClass, Reason, fallback, gave_up
from syncd.store.models import MembershipState
from syncd.targets import TargetKind, TargetRef

Outcome = Literal["applied", "rejected", "retry"]

LEDGER_STATE = {"add": MembershipState.ADDED, "remove": MembershipState.REMOVED, "set": "set"}
COUNT_KEY = {"add": "added", "remove": "removed", "set": "set"}


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What the remote said about one outbox row.

    Attributes:
        outcome: `applied`, `rejected` or `retry`.
        error_class: The failure's class; None when applied.
        message: The vendor's words or syncd's, redacted; None when applied.
        reason: Why it was not applied (stored as the audit row's `reason_code`).
    """

    outcome: Outcome
    error_class: str | None = None
    message: str | None = None
    reason: Reason | None = None


@dataclass
class Tally:
    """The outcomes of one apply window, sorted into what its transaction writes.

    Attributes:
        workspace: Whose rows.
        now: The stamp of every row written.
        max_attempts: A retry at this attempt becomes a rejection.
        ledger: `(run id, (target, contact id, state, value))` per applied row.
        done: Outbox ids applied.
        rejected: `(outbox id, message, reason)` refused for good.
        retry: `(outbox id, message, reason)` to try again.
        events: One audit row per outbox row.
        counted: `(target, count key)` per outbox row, for the run's report.
        partial: Per batch with failures: its target and figures, for one log line each.
    """

    workspace: str
    now: datetime
    max_attempts: int
    ledger: list[tuple[int, tuple[str, int, str, str | None]]] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str | None, Reason | None]] = field(default_factory=list)
    retry: list[tuple[int, str | None, Reason | None]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    counted: list[tuple[str, str]] = field(default_factory=list)
    partial: list[dict[str, object]] = field(default_factory=list)

    def add(
        self, ref: TargetRef, batch: Sequence[OutboxItem], outcomes: Mapping[int, ItemOutcome]
    ) -> None:
        """Sort one batch's outcomes (every row of `batch` has one)."""
        counts = Counter[str]()
        for item in batch:
            result = outcomes[item.id]
            outcome: str = result.outcome
            message = result.message
            if outcome == "retry" and item.attempts + 1 >= self.max_attempts:
                outcome = "rejected"  # its reason stays the last attempt's
                message = gave_up(self.max_attempts, message)
                counts["gave_up"] += 1
            if outcome == "applied":
                self.done.append(item.id)
                state = LEDGER_STATE[item.action]
                self.ledger.append((item.run_id, (item.target, item.contact_id, state, item.value)))
            elif outcome == "rejected":
                self.rejected.append((item.id, message, result.reason))
            else:
                self.retry.append((item.id, "retryable failure", result.reason))
            counts[outcome] += 1
            self.events.append(
                audit_row(self.workspace, ref, item, result, outcome, message, self.now)
            )
            self.counted.append(
                (item.target, COUNT_KEY[item.action] if outcome == "applied" else outcome)
            )
        if counts["rejected"] or counts["retry"]:
            self.partial.append({"target": ref.key, "applied": counts["applied"],
                                 "rejected": counts["rejected"], "retry": counts["retry"],
                                 "gave_up": counts["gave_up"]})  # fmt: skip


def audit_row(
    workspace: str,
    ref: TargetRef,
    item: OutboxItem,
    result: ItemOutcome,
    outcome: str,
    message: str | None,
    now: datetime,
) -> dict[str, object]:
    """The audit row of one outbox row's outcome."""
    applied = outcome == "applied"
    return {
        "workspace": workspace,
        "run_id": item.run_id,
        "at": now,
        "contact_id": item.contact_id,
        "email": item.email,
        "hubspot_id": item.hubspot_id,
        "mailchimp_id": item.mailchimp_id,
        "segment": ref.name if ref.kind is not TargetKind.HUBSPOT_PROPERTY else None,
        "target": item.target,
        "action": item.action,
        "reason": item.reason,
        "outcome": outcome,
        "error_class": None if applied else result.error_class,
        "message": None if applied else message,
        "reason_code": None if applied else _reason(result),
        "value": item.value if item.action == "set" else None,
    }


def _reason(result: ItemOutcome) -> Reason:
    """The reason of a row that was not applied: its own, else its class's general one."""
    if result.reason is not None:
        return result.reason
    return fallback(ErrorClass(result.error_class or ErrorClass.SYSTEM))
