"""Apply: push a run's outbox to the remote systems, window by window, durably.

Each API sends its batches in windows of up to `in_flight` batches at once (the writer's
figure; 1 when it has none): the window's rows are marked in flight in one transaction, its
API calls go out together on a small thread pool, and then, in one transaction, each
confirmed change updates the ledger and writes its audit event. A crash leaves at most the
batches in flight (one window) to be sent again (every write syncd makes is idempotent
remotely: adding a present member or setting the same value changes nothing). Sending several
batches at once hides the network's round trip; the HTTP layer still holds each API to its
budget (HubSpot's rolling window, Mailchimp's connection limit). HubSpot and Mailchimp are
written in parallel, each on its own thread, because their limits are separate; one of them
failing never stops the other or hides what the other applied.

Each of those transactions is fenced by the apply lease, and before each API call the lease
must still be alive: a writer that lost it (paused past its TTL, say) stops at once and
commits nothing more.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine, select

from syncd.engine.closing import close_memberships
from syncd.engine.deleted_targets import record_deleted
from syncd.engine.ledger import (
    OutboxItem,
    mark,
    mark_each,
    pending_counts,
    pending_page,
    set_ledger,
)
from syncd.engine.tally import ItemOutcome, Tally
from syncd.errors import ConfigError, SyncdError, TransientError, classify, error_for
from syncd.events import Event
from syncd.failures import ErrorClass, Reason
from syncd.logs import get_logger
from syncd.store.lease import UNFENCED, Clock, Fence, LeaseLostError, fenced
from syncd.store.models import (
    AuditEvent,
    OutboxState,
    RemoteTarget,
)
from syncd.store.types import table_of
from syncd.targets import TargetRef

__all__ = ["ApplyReport", "ItemOutcome", "Writer", "apply_run"]

log = get_logger(__name__)

#: Outbox rows apply reads per page of one target (rounded down to whole batches).
PAGE_ROWS = 10_000
#: The outbox states apply sends: planned, and in flight when a crash interrupted them.
SENDABLE = (OutboxState.PENDING, OutboxState.IN_FLIGHT)


class Writer(Protocol):
    """The engine's view of one connector's write side (see `syncd.engine.writers`).

    A writer may also carry `in_flight: int`, the batches it may have in flight at once (its
    calls must then be safe from several threads); without it, one batch at a time.
    """

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


#: One batch to send: its target, the target's remote id and its rows.
_Send = tuple[TargetRef, str, Sequence[OutboxItem]]


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
        counts = pending_counts(conn, workspace, run_id, SENDABLE)
    applier = _Applier(db, workspace, fence, clock, max_attempts, run_id=run_id)
    by_api: dict[str, dict[TargetRef, int]] = defaultdict(dict)
    for ref in create:
        if ref.key not in applier.known:
            by_api[ref.api].setdefault(ref, 0)
    for target, n in counts.items():
        ref = TargetRef.parse(target)
        by_api[ref.api][ref] = n
    stop = stop or threading.Event()

    def one_api(api: str) -> None:
        writer = writers.get(api)
        if writer is None:
            log.warning(Event.APPLY_NO_WRITER, api=api, rows=sum(by_api[api].values()))
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
        self.page_rows = PAGE_ROWS
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
        targets: Mapping[TargetRef, int],
        stop: threading.Event,
        on_batch: Callable[[str, int], None] | None,
    ) -> None:
        """Every target of one API (`target -> rows to send`), a window of batches at a time."""
        window = max(1, int(getattr(writer, "in_flight", 1)))
        left = {ref: -(-n // max(1, writer.batch_size(ref))) for ref, n in targets.items()}
        batches = self._batches(writer, sorted(targets), left)
        with ThreadPoolExecutor(window, thread_name_prefix=f"send-{writer.api}") as pool:
            while any(left.values()):
                if stop.is_set():
                    self.report.stopped = True
                    return
                sends = list(itertools.islice(batches, window))
                if not sends:
                    return
                self._send_window(writer, pool, sends)
                for ref, _, _ in sends:
                    left[ref] -= 1
                if on_batch is not None:
                    for _, _, batch in sends:
                        on_batch(writer.api, len(batch))
            for _ in batches:  # targets with nothing to send are still ensured (created)
                pass

    def _batches(
        self, writer: Writer, refs: Sequence[TargetRef], left: dict[TargetRef, int]
    ) -> Iterator[_Send]:
        """`(target, remote id, batch)` in target order; each target ensured when reached.

        Each target's rows are read a page (`page_rows`, whole batches) at a time, so the
        rows in memory stay a few pages whatever the size of the run. A target left deleted
        is skipped, and its batches no longer count in `left`.
        """
        for ref in refs:
            self.fence.ensure_alive()
            try:
                remote_id = self._ensure(writer, ref, self.known.get(ref.key))
            except SyncdError as exc:
                if exc.reason is not Reason.TARGET_DELETED_KEPT:
                    raise
                self._keep_deleted(ref)
                left[ref] = 0
                continue
            size = max(1, writer.batch_size(ref))
            for rows in self._pages(ref, size * max(1, self.page_rows // size)):
                for start in range(0, len(rows), size):
                    yield ref, remote_id, rows[start : start + size]

    def _pages(self, ref: TargetRef, limit: int) -> Iterator[list[OutboxItem]]:
        """The run's sendable rows for `ref`, `limit` at a time, in id order."""
        assert self.run_id is not None
        after = 0
        while True:
            with self.db.begin() as conn:
                rows = pending_page(
                    conn,
                    self.workspace,
                    self.run_id,
                    SENDABLE,
                    target=ref.key,
                    after_id=after,
                    limit=limit,
                )
            if rows:
                yield rows
            if len(rows) < limit:
                return
            after = rows[-1].id

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

    def _send_window(
        self, writer: Writer, pool: ThreadPoolExecutor, sends: Sequence[_Send]
    ) -> None:
        """Mark the window in flight, send its batches at once, record every outcome.

        A batch refused for a reason a person must fix goes back to pending and its error is
        raised once the others' outcomes are recorded: what did reach the API is never lost.
        """
        with fenced(self.db, self.fence) as conn:
            mark(conn, [i.id for _, _, b in sends for i in b], OutboxState.IN_FLIGHT,
                 now=self.clock())  # fmt: skip
        self.fence.ensure_alive()  # paused between the two statements: the takeover may be done
        if len(sends) == 1:
            results = [self._call(writer, *sends[0])]
        else:
            results = list(pool.map(lambda send: self._call(writer, *send), sends))
        recorded: list[tuple[TargetRef, Sequence[OutboxItem], dict[int, ItemOutcome]]] = []
        unsent: list[int] = []
        raised: BaseException | None = None
        for (ref, _, batch), result in zip(sends, results, strict=True):
            if isinstance(result, ConfigError):
                unsent.extend(i.id for i in batch)
                raised = raised or result
            elif isinstance(result, BaseException):
                # Lease lost, or a bug: its rows stay in flight and are resent by the next run.
                raised = raised or result
            else:
                recorded.append((ref, batch, result))
        with self.lock:
            self.report.batches += len(recorded)
        if recorded or unsent:
            self._record(recorded, unsent)
        if raised is not None:
            raise raised

    def _call(
        self, writer: Writer, ref: TargetRef, remote_id: str, batch: Sequence[OutboxItem]
    ) -> dict[int, ItemOutcome] | BaseException:
        """One API call for one batch: an outcome for every row, or what stops the API."""
        ids = [i.id for i in batch]
        try:
            self.fence.ensure_alive()
            outcomes = dict(writer.write(ref, remote_id, batch))
        except (ConfigError, LeaseLostError) as exc:
            return exc
        except TransientError as exc:
            retry = ItemOutcome("retry", ErrorClass.TRANSIENT, exc.message, exc.reason)
            outcomes = dict.fromkeys(ids, retry)
        except SyncdError as exc:
            refused = ItemOutcome("rejected", exc.error_class, exc.message, exc.reason)
            outcomes = dict.fromkeys(ids, refused)
        except Exception as exc:  # noqa: BLE001 - re-raised once the window is recorded
            return exc
        silent = ItemOutcome(
            "retry", ErrorClass.SYSTEM, "no outcome reported for this row", Reason.NO_OUTCOME
        )
        for item_id in ids:
            outcomes.setdefault(item_id, silent)
        return outcomes

    def _record(
        self,
        recorded: Sequence[tuple[TargetRef, Sequence[OutboxItem], Mapping[int, ItemOutcome]]],
        unsent: Sequence[int],
    ) -> None:
        """Every batch of a window in one transaction: ledger, outbox states, audit rows."""
        tally = Tally(self.workspace, self.clock(), self.max_attempts)
        for ref, batch, outcomes in recorded:
            tally.add(ref, batch, outcomes)
        now = tally.now
        with fenced(self.db, self.fence) as conn:
            if unsent:
                mark(conn, unsent, OutboxState.PENDING, now=now)
            by_run: dict[int, list[tuple[str, int, str, str | None]]] = defaultdict(list)
            for run_id, row in tally.ledger:
                by_run[run_id].append(row)
            for run_id, rows in by_run.items():
                set_ledger(conn, self.workspace, rows, run_id, now=now)
            if tally.done:
                mark(conn, tally.done, OutboxState.DONE, now=now)
            if tally.rejected:
                mark_each(conn, tally.rejected, OutboxState.REJECTED, now=now)
            if tally.retry:
                mark_each(conn, tally.retry, OutboxState.PENDING, now=now)
            if tally.events:
                conn.execute(table_of(AuditEvent).insert(), tally.events)
        with self.lock:  # counted once recorded: a write the fence refused did not happen for us
            for target, key in tally.counted:
                self.report.add(target, key)
        for figures in tally.partial:
            log.warning(Event.APPLY_BATCH_PARTIAL, **figures)
