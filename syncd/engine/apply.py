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
from typing import Literal, Protocol

from sqlalchemy import Engine, select

from syncd.engine.lease import UNFENCED, Fence, LeaseLostError, fenced
from syncd.engine.ledger import OutboxItem, mark, mark_each, pending_items, set_ledger
from syncd.errors import ConfigError, ErrorClass, SyncdError, TransientError
from syncd.logs import get_logger
from syncd.store.models import (
    AuditEvent,
    Membership,
    MembershipState,
    OutboxState,
    RemoteTarget,
)
from syncd.store.types import table_of, utcnow
from syncd.targets import TargetKind, TargetRef

log = get_logger(__name__)

Outcome = Literal["applied", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What the remote said about one outbox row."""

    outcome: Outcome
    error_class: str | None = None
    message: str | None = None


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
    """

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stopped: bool = False
    lost: bool = False
    batches: int = 0
    apis: list[str] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)

    def add(self, target: str, key: str, n: int = 1) -> None:
        """Count `n` under `target` / `key`."""
        self.counts[target][key] += n


_LEDGER_STATE = {"add": MembershipState.ADDED, "remove": MembershipState.REMOVED, "set": "set"}
_COUNT_KEY = {"add": "added", "remove": "removed", "set": "set"}


def apply_run(
    engine: Engine,
    workspace: str,
    run_id: int,
    writers: Mapping[str, Writer],
    *,
    stop: threading.Event | None = None,
    max_attempts: int = 5,
    on_batch: Callable[[str, int], None] | None = None,
    create: Sequence[TargetRef] = (),
    fence: Fence = UNFENCED,
) -> ApplyReport:
    """Send every pending or in-flight outbox row of `run_id`.

    Args:
        engine: The store.
        workspace: Whose outbox.
        run_id: The run whose plan is applied (also a held run being released).
        writers: One writer per API name (`hubspot`, `mailchimp`).
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
    stop = stop or threading.Event()
    report = ApplyReport()
    with engine.begin() as conn:
        items = pending_items(conn, workspace, run_id, [OutboxState.PENDING, OutboxState.IN_FLIGHT])
    by_api: dict[str, dict[TargetRef, list[OutboxItem]]] = defaultdict(lambda: defaultdict(list))
    known = _known_targets(engine, workspace)
    for ref in create:
        if ref.key not in known:
            by_api[ref.api].setdefault(ref, [])
    for item in items:
        ref = TargetRef.parse(item.target)
        by_api[ref.api][ref].append(item)
    lock = threading.Lock()

    def one_api(api: str) -> None:
        writer = writers.get(api)
        if writer is None:
            log.warning("apply.no_writer", api=api, rows=sum(map(len, by_api[api].values())))
            return
        for ref, target_items in sorted(by_api[api].items()):
            fence.ensure_alive()
            remote_id = _ensure(engine, workspace, writer, ref, known.get(ref.key), fence)
            size = max(1, writer.batch_size(ref))
            for start in range(0, len(target_items), size):
                if stop.is_set():
                    report.stopped = True
                    return
                batch = target_items[start : start + size]
                _send(engine, fence, workspace, writer, ref, remote_id, batch, report, lock,
                      max_attempts)  # fmt: skip
                if on_batch is not None:
                    on_batch(api, len(batch))

    def guarded(api: str) -> None:
        try:
            one_api(api)
        except LeaseLostError:
            report.lost = True
        except Exception as exc:  # noqa: BLE001 - recorded for the run; the other API goes on
            if _lost(fence):  # e.g. the server ended a session that stalled past the TTL
                report.lost = True
                return
            with lock:
                report.failures[api] = exc
            log.warning("apply.api_failed", api=api, error_class=str(_class_of(exc)))

    report.apis = sorted(by_api)
    if len(report.apis) <= 1:
        for api in report.apis:
            guarded(api)
    else:
        with ThreadPoolExecutor(max_workers=len(report.apis), thread_name_prefix="apply") as pool:
            for future in [pool.submit(guarded, api) for api in report.apis]:
                future.result()
    return report


def _lost(fence: Fence) -> bool:
    try:
        fence.ensure_alive()
    except LeaseLostError:
        return True
    return False


def _class_of(exc: BaseException) -> ErrorClass:
    return exc.error_class if isinstance(exc, SyncdError) else ErrorClass.SYSTEM


def _known_targets(engine: Engine, workspace: str) -> dict[str, str]:
    """`target key -> remote id` of every list and tag syncd has made, read once per apply."""
    rt = table_of(RemoteTarget)
    with engine.begin() as conn:
        rows = conn.execute(select(rt.c.target, rt.c.remote_id).where(rt.c.workspace == workspace))
        return {target: remote_id for target, remote_id in rows}


def _ensure(
    engine: Engine,
    workspace: str,
    writer: Writer,
    ref: TargetRef,
    known: str | None,
    fence: Fence,
) -> str:
    rt = table_of(RemoteTarget)
    remote_id = writer.ensure(ref, known)
    if remote_id != known:
        with fenced(engine, fence) as conn:
            other = conn.execute(
                select(rt.c.target).where(
                    rt.c.workspace == workspace,
                    rt.c.remote_id == remote_id,
                    rt.c.target != ref.key,
                    rt.c.target.like(f"{ref.kind}:%"),
                )
            ).scalar_one_or_none()
            if other is not None:
                raise ConfigError(
                    f"{ref.api} answered with {ref.remote_name!r} (id {remote_id}), which syncd "
                    f"already keeps for {other}",
                    hint="two segments map to one remote list or tag; rename one of them",
                )
            if known is None:
                conn.execute(
                    rt.insert().values(
                        workspace=workspace,
                        target=ref.key,
                        remote_id=remote_id,
                        name=ref.remote_name,
                        created_at=utcnow(),
                    )
                )
            else:
                # The known list or tag is gone and a new, empty one was made: what the
                # ledger says syncd added is no longer there, so those rows are re-planned.
                conn.execute(
                    rt.update()
                    .where(rt.c.workspace == workspace, rt.c.target == ref.key)
                    .values(remote_id=remote_id)
                )
                m = table_of(Membership).c
                reset = conn.execute(
                    table_of(Membership)
                    .update()
                    .where(
                        m.workspace == workspace,
                        m.target == ref.key,
                        m.state == MembershipState.ADDED,
                    )
                    .values(state=MembershipState.REMOVED, updated_at=utcnow())
                ).rowcount
                log.warning(
                    "apply.target_recreated",
                    target=ref.key,
                    old_id=known,
                    new_id=remote_id,
                    ledger_rows_reset=reset,
                )
    return remote_id


def _send(
    engine: Engine,
    fence: Fence,
    workspace: str,
    writer: Writer,
    ref: TargetRef,
    remote_id: str,
    batch: Sequence[OutboxItem],
    report: ApplyReport,
    lock: threading.Lock,
    max_attempts: int,
) -> None:
    with fenced(engine, fence) as conn:
        mark(conn, [i.id for i in batch], OutboxState.IN_FLIGHT)
    fence.ensure_alive()  # paused between the two statements: the takeover may be done
    try:
        outcomes = dict(writer.write(ref, remote_id, batch))
    except ConfigError:
        with fenced(engine, fence) as conn:
            mark(conn, [i.id for i in batch], OutboxState.PENDING)
        raise
    except TransientError as exc:
        outcomes = {i.id: ItemOutcome("retry", ErrorClass.TRANSIENT, exc.message) for i in batch}
    except SyncdError as exc:
        outcomes = {i.id: ItemOutcome("rejected", exc.error_class, exc.message) for i in batch}
    for item in batch:
        outcomes.setdefault(
            item.id, ItemOutcome("retry", ErrorClass.SYSTEM, "no outcome reported for this row")
        )
    with lock:
        report.batches += 1
    _record(engine, fence, workspace, ref, batch, outcomes, report, lock, max_attempts)


def _record(
    engine: Engine,
    fence: Fence,
    workspace: str,
    ref: TargetRef,
    batch: Sequence[OutboxItem],
    outcomes: Mapping[int, ItemOutcome],
    report: ApplyReport,
    lock: threading.Lock,
    max_attempts: int,
) -> None:
    now = utcnow()
    ledger_rows: list[tuple[str, int, str, str | None]] = []
    done, rejected, retry, gave_up = [], [], [], []
    events = []
    for item in batch:
        result = outcomes[item.id]
        outcome: str = result.outcome
        message = result.message
        if outcome == "retry" and item.attempts + 1 >= max_attempts:
            outcome, message = "rejected", f"gave up after {max_attempts} attempts: {message}"
            gave_up.append(item.id)
        if outcome == "applied":
            done.append(item.id)
            ledger_rows.append(
                (item.target, item.contact_id, _LEDGER_STATE[item.action], item.value)
            )
        elif outcome == "rejected":
            rejected.append((item.id, message))
        else:
            retry.append(item.id)
        events.append(
            {
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
                "outcome": outcome if outcome != "retry" else "retry",
                "error_class": result.error_class if outcome != "applied" else None,
                "message": message if outcome != "applied" else None,
                "value": item.value if item.action == "set" else None,
            }
        )
    with fenced(engine, fence) as conn:
        if ledger_rows:
            run_id = batch[0].run_id
            set_ledger(conn, workspace, ledger_rows, run_id, now)
        if done:
            mark(conn, done, OutboxState.DONE)
        if rejected:
            mark_each(conn, rejected, OutboxState.REJECTED)
        if retry:
            mark(conn, retry, OutboxState.PENDING, "retryable failure", bump_attempts=True)
        conn.execute(table_of(AuditEvent).insert(), events)
    with lock:  # counted once recorded: a write the fence refused did not happen for us
        for item, event in zip(batch, events, strict=True):
            final = str(event["outcome"])
            report.add(item.target, _COUNT_KEY[item.action] if final == "applied" else final)
    if rejected or retry:
        log.warning(
            "apply.batch_partial",
            target=ref.key,
            applied=len(done),
            rejected=len(rejected),
            retry=len(retry),
            gave_up=len(gave_up),
        )
