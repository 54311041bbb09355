"""Apply: push a run's outbox to the remote systems, batch by batch, durably.

For every batch: rows are marked in flight (committed), the API is called, and then, in one
transaction, each confirmed change updates the ledger and writes its audit event. A crash
leaves at most the batch in flight to be sent again (every write syncd makes is idempotent
remotely: adding a present member or setting the same value changes nothing). HubSpot and
Mailchimp are written in parallel, each on its own thread, because their limits are separate;
one of them failing never stops the other or hides what the other applied.

Each of those transactions is fenced by the apply lease, and before each API call the lease
must still be alive: a writer that lost it (paused past its TTL, say) stops at once and
commits nothing more.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import Engine, select

from syncd.engine.closing import close_memberships
from syncd.engine.deleted_targets import record_deleted
from syncd.engine.ledger import OutboxItem, mark, mark_each, pending_items, set_ledger
from syncd.errors import ConfigError, SyncdError, TransientError, classify, error_for
from syncd.events import Event
from syncd.failures import ErrorClass, Reason, fallback, gave_up
from syncd.logs import get_logger
from syncd.store.lease import UNFENCED, Clock, Fence, LeaseLostError, fenced
from syncd.store.models import (
    AuditEvent,
    MembershipState,
    OutboxState,
    RemoteTarget,
)
from syncd.store.types import table_of
from syncd.targets import TargetKind, TargetRef

log = get_logger(__name__)

Outcome = Literal["applied", "rejected", "retry"]


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


class Writer(Protocol):
    """The engine's view of one connector's write side (see `syncd.engine.writers`)."""

    api: str

    def ensure(self, ref: TargetRef, known_remote_id: str | None) -> str:
        """Find or create the remote list/tag/property; returns its remote id."""
        ...

    def batch_size(self, ref: TargetRef) -> int:
        """The largest batch the API takes for this kind of target."""
        ...

    def write(
        self, ref: TargetRef, remote_id: str, items: Sequence[OutboxItem]
    ) -> Mapping[int, ItemOutcome]:
        """Send one batch; returns an outcome for every outbox id in `items`."""
        ...


@dataclass
class ApplyReport:
    """Per-target figures of one apply pass, and how it ended for each API.

    Attributes:
        counts: Target -> outcome -> rows.
        stopped: Stopped early on request (graceful shutdown).
        lost: Stopped because the apply lease was lost to another writer.
        batches: API batches sent.
        apis: The APIs that had work.
        failures: API -> the error that ended its part early; the other APIs went on.
        kept_deleted: Targets found deleted by a person and left so (`on_deleted_target:
            stop`); their rows stay unsent and the other targets went on.
    """

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stopped: bool = False
    lost: bool = False
    batches: int = 0
    apis: list[str] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)
    kept_deleted: list[str] = field(default_factory=list)

    def add(self, target: str, key: str, n: int = 1) -> None:
        """Count `n` under `target` / `key`."""
        self.counts[target][key] += n


_LEDGER_STATE = {"add": MembershipState.ADDED, "remove": MembershipState.REMOVED, "set": "set"}
_COUNT_KEY = {"add": "added", "remove": "removed", "set": "set"}


def apply_run(
    db: Engine,
    workspace: str,
    run_id: int,
    writers: Mapping[str, Writer],
    *,
    clock: Clock,
    stop: threading.Event | None = None,
    max_attempts: int = 5,
    on_batch: Callable[[str, int], None] | None = None,
    create: Sequence[TargetRef] = (),
    fence: Fence = UNFENCED,
) -> ApplyReport:
    """Send every pending or in-flight outbox row of `run_id`.

    Args:
        db: The store.
        workspace: Whose outbox.
        run_id: The run whose plan is applied (also a held run being released).
        writers: One writer per API name (`hubspot`, `mailchimp`).
        clock: The run's clock; it stamps ledger rows, audit events and outbox states.
        stop: Set to stop after the batch in flight (graceful shutdown).
        max_attempts: Retryable failures after this many attempts become rejections.
        on_batch: Progress callback `(api, rows in batch)`.
        create: Configured targets to create even when they have no change yet (a new,
            still empty segment gets its list or tag at once); known ones are skipped.
        fence: The apply lease the run holds; every store write is conditioned on it.

    Returns:
        The report; an API whose part failed (a person must act, or it stayed unavailable)
        is named in `failures` with its rows left pending, and the other APIs' figures are
        complete.
    """
    with db.begin() as conn:
        items = pending_items(conn, workspace, run_id, [OutboxState.PENDING, OutboxState.IN_FLIGHT])
    applier = _Applier(db, workspace, fence, clock, max_attempts, run_id=run_id)
    by_api: dict[str, dict[TargetRef, list[OutboxItem]]] = defaultdict(lambda: defaultdict(list))
    for ref in create:
        if ref.key not in applier.known:
            by_api[ref.api].setdefault(ref, [])
    for item in items:
        ref = TargetRef.parse(item.target)
        by_api[ref.api][ref].append(item)
    stop = stop or threading.Event()

    def one_api(api: str) -> None:
        writer = writers.get(api)
        if writer is None:
            log.warning(Event.APPLY_NO_WRITER, api=api, rows=sum(map(len, by_api[api].values())))
            return
        applier.send_api(writer, by_api[api], stop, on_batch)

    report = applier.report
    report.apis = sorted(by_api)
    if len(report.apis) <= 1:
        for api in report.apis:
            applier.guarded(api, one_api)
    else:
        with ThreadPoolExecutor(max_workers=len(report.apis), thread_name_prefix="apply") as pool:
            for future in [pool.submit(applier.guarded, api, one_api) for api in report.apis]:
                future.result()
    return report


class _Applier:
    """One apply pass: the store, the fence, the clock and the report its API threads share."""

    def __init__(
        self,
        db: Engine,
        workspace: str,
        fence: Fence,
        clock: Clock,
        max_attempts: int,
        *,
        run_id: int | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.workspace = workspace
        self.fence = fence
        self.clock = clock
        self.max_attempts = max_attempts
        self.report = ApplyReport()
        self.lock = threading.Lock()
        self.known = self._known_targets()

    def guarded(self, api: str, body: Callable[[str], None]) -> None:
        """Run one API's part; a failure is recorded for the run and the other API goes on."""
        try:
            body(api)
        except LeaseLostError:
            self.report.lost = True
        except Exception as exc:  # noqa: BLE001 - recorded for the run; the other API goes on
            if self._lost():  # e.g. the server ended a session that stalled past the TTL
                self.report.lost = True
                return
            with self.lock:
                self.report.failures[api] = exc
            log.warning(Event.APPLY_API_FAILED, api=api, error_class=str(classify(exc)))

    def send_api(
        self,
        writer: Writer,
        targets: Mapping[TargetRef, Sequence[OutboxItem]],
        stop: threading.Event,
        on_batch: Callable[[str, int], None] | None,
    ) -> None:
        """Every target of one API, batch by batch, until done or stopped."""
        for ref, target_items in sorted(targets.items()):
            self.fence.ensure_alive()
            try:
                remote_id = self._ensure(writer, ref, self.known.get(ref.key))
            except SyncdError as exc:
                if exc.reason is not Reason.TARGET_DELETED_KEPT:
                    raise
                self._keep_deleted(ref)
                continue
            size = max(1, writer.batch_size(ref))
            for start in range(0, len(target_items), size):
                if stop.is_set():
                    self.report.stopped = True
                    return
                batch = target_items[start : start + size]
                self._send(writer, ref, remote_id, batch)
                if on_batch is not None:
                    on_batch(writer.api, len(batch))

    def _keep_deleted(self, ref: TargetRef) -> None:
        """A person deleted `ref` and syncd leaves it so: recorded, the other targets go on."""
        known = self.known.get(ref.key) or ""
        run_id = self.run_id if self.run_id is not None else 0
        record_deleted(
            self.db, self.workspace, run_id, ref, known, "stop", now=self.clock(), fence=self.fence
        )
        with self.lock:
            self.report.kept_deleted.append(ref.key)

    def _lost(self) -> bool:
        try:
            self.fence.ensure_alive()
        except LeaseLostError:
            return True
        return False

    def _known_targets(self) -> dict[str, str]:
        """`target key -> remote id` of every list and tag syncd has made, read once."""
        rt = table_of(RemoteTarget)
        with self.db.begin() as conn:
            rows = conn.execute(
                select(rt.c.target, rt.c.remote_id).where(rt.c.workspace == self.workspace)
            )
            return {target: remote_id for target, remote_id in rows}

    def _ensure(self, writer: Writer, ref: TargetRef, known: str | None) -> str:
        remote_id = writer.ensure(ref, known)
        if remote_id == known:
            return remote_id
        rt = table_of(RemoteTarget)
        workspace = self.workspace
        with fenced(self.db, self.fence) as conn:
            other = conn.execute(
                select(rt.c.target).where(
                    rt.c.workspace == workspace,
                    rt.c.remote_id == remote_id,
                    rt.c.target != ref.key,
                    rt.c.target.like(f"{ref.kind}:%"),
                )
            ).scalar_one_or_none()
            if other is not None:
                raise error_for(
                    Reason.TARGET_SHARED,
                    f"{ref.api} answered with {ref.remote_name!r} (id {remote_id}), which syncd "
                    f"already keeps for {other}",
                    api=ref.api,
                )
            now = self.clock()
            if known is None:
                conn.execute(
                    rt.insert().values(
                        workspace=workspace,
                        target=ref.key,
                        remote_id=remote_id,
                        name=ref.remote_name,
                        created_at=now,
                    )
                )
                return remote_id
            # The known list or tag is gone and a new, empty one was made: what the ledger
            # says syncd added is no longer there, so those rows are re-planned.
            conn.execute(
                rt.update()
                .where(rt.c.workspace == workspace, rt.c.target == ref.key)
                .values(remote_id=remote_id, deleted_at=None)
            )
            reset = close_memberships(
                conn,
                workspace,
                target=ref.key,
                reason=f"{ref.remote_name!r} (id {known}) was deleted by a person; recreated",
                code=Reason.TARGET_DELETED,
                run_id=self.run_id,
                now=now,
            )
        log.warning(
            Event.APPLY_TARGET_RECREATED,
            target=ref.key,
            old_id=known,
            new_id=remote_id,
            ledger_rows_reset=reset,
        )
        return remote_id

    def _send(
        self, writer: Writer, ref: TargetRef, remote_id: str, batch: Sequence[OutboxItem]
    ) -> None:
        ids = [i.id for i in batch]
        with fenced(self.db, self.fence) as conn:
            mark(conn, ids, OutboxState.IN_FLIGHT, now=self.clock())
        self.fence.ensure_alive()  # paused between the two statements: the takeover may be done
        try:
            outcomes = dict(writer.write(ref, remote_id, batch))
        except ConfigError:
            with fenced(self.db, self.fence) as conn:
                mark(conn, ids, OutboxState.PENDING, now=self.clock())
            raise
        except TransientError as exc:
            retry = ItemOutcome("retry", ErrorClass.TRANSIENT, exc.message, exc.reason)
            outcomes = dict.fromkeys(ids, retry)
        except SyncdError as exc:
            refused = ItemOutcome("rejected", exc.error_class, exc.message, exc.reason)
            outcomes = dict.fromkeys(ids, refused)
        silent = ItemOutcome(
            "retry", ErrorClass.SYSTEM, "no outcome reported for this row", Reason.NO_OUTCOME
        )
        for item_id in ids:
            outcomes.setdefault(item_id, silent)
        with self.lock:
            self.report.batches += 1
        self._record(ref, batch, outcomes)

    def _record(
        self, ref: TargetRef, batch: Sequence[OutboxItem], outcomes: Mapping[int, ItemOutcome]
    ) -> None:
        now = self.clock()
        ledger_rows: list[tuple[str, int, str, str | None]] = []
        done: list[int] = []
        rejected: list[tuple[int, str | None, Reason | None]] = []
        retry: list[tuple[int, str | None, Reason | None]] = []
        stopped: list[int] = []
        events = []
        for item in batch:
            result = outcomes[item.id]
            outcome: str = result.outcome
            message = result.message
            if outcome == "retry" and item.attempts + 1 >= self.max_attempts:
                outcome = "rejected"  # its reason stays the last attempt's
                message = gave_up(self.max_attempts, message)
                stopped.append(item.id)
            if outcome == "applied":
                done.append(item.id)
                ledger_rows.append(
                    (item.target, item.contact_id, _LEDGER_STATE[item.action], item.value)
                )
            elif outcome == "rejected":
                rejected.append((item.id, message, result.reason))
            else:
                retry.append((item.id, "retryable failure", result.reason))
            events.append(_event(self.workspace, ref, item, result, outcome, message, now))
        with fenced(self.db, self.fence) as conn:
            if ledger_rows:
                set_ledger(conn, self.workspace, ledger_rows, batch[0].run_id, now=now)
            if done:
                mark(conn, done, OutboxState.DONE, now=now)
            if rejected:
                mark_each(conn, rejected, OutboxState.REJECTED, now=now)
            if retry:
                mark_each(conn, retry, OutboxState.PENDING, now=now)
            conn.execute(table_of(AuditEvent).insert(), events)
        with self.lock:  # counted once recorded: a write the fence refused did not happen for us
            for item, event in zip(batch, events, strict=True):
                final = str(event["outcome"])
                self.report.add(
                    item.target, _COUNT_KEY[item.action] if final == "applied" else final
                )
        if rejected or retry:
            log.warning(
                Event.APPLY_BATCH_PARTIAL,
                target=ref.key,
                applied=len(done),
                rejected=len(rejected),
                retry=len(retry),
                gave_up=len(stopped),
            )


def _event(
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
