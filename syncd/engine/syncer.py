"""One sync run, start to finish: pull, segment, plan, guard, journal, apply, summarise.

`Syncer` is what the CLI, the daemon's jobs, the console and the demo call. It owns no
connector code: the connectors and their writers are handed over (`syncd.runtime`
builds them from the settings), which keeps imports one way and lets tests use the sandbox.

Every entry point that writes (`sync`, `release`, `undo`) works under the workspace's apply
lease, taken here rather than by each caller, so no path can write beside another writer. The
lease fences every store write of the run (see `syncd.store.lease`), and taking it first
closes whatever run a killed writer left `running` (see `syncd.engine.recovery`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine, select

from connectors.base import ContactSource, MemberReader
from syncd.engine.apply import Writer, apply_run
from syncd.engine.decisions import REJECTED, RELEASED, holds_to_decide, local_user, record
from syncd.engine.deleted_targets import OnDeleted, kept_deleted, note_deleted, without
from syncd.engine.drift import detect_drift
from syncd.engine.guards import empty_pull_guard, removal_guard, stale_data_guard
from syncd.engine.holds import HeldTarget, WaitingHold, carry
from syncd.engine.ledger import ledger_for, ledger_summary, load_ledger, set_ledger, write_outbox
from syncd.engine.outcome import guarded, note_stale, settle
from syncd.engine.plan import ContactView, Plan, Planner, SegmentTargets
from syncd.engine.pull import pull_all
from syncd.engine.recovery import recover_interrupted
from syncd.engine.review import sample_changes
from syncd.engine.run_record import (
    RunResult,
    finish_run,
    last_full_pull,
    start_run,
)
from syncd.engine.segmentation import Segmented, segment_store, segment_targets
from syncd.engine.snapshots import record_segment_history
from syncd.engine.undo import undo_changes
from syncd.errors import SyncdError
from syncd.events import Event
from syncd.logs import get_logger, run_context
from syncd.memory import release_free_memory
from syncd.segments import RuleSet
from syncd.store.counts import RunCounts
from syncd.store.lease import (
    APPLY_LEASE_TTL,
    UNFENCED,
    Clock,
    Fence,
    HeldLease,
    LeaseInfo,
    apply_lease_name,
    fenced,
    hold,
    make_holder_id,
)
from syncd.store.maintenance import vacuum_after
from syncd.store.models import HoldStatus, MembershipState, OutboxEntry, RunStatus, SyncRun
from syncd.store.scratch import scratch
from syncd.store.types import table_of

log = get_logger(__name__)


@dataclass(frozen=True)
class LeaseWait:
    """How a writer waits while another one holds the workspace's apply lease.

    Attributes:
        timeout_s: Give up (raising `LeaseBusyError`) after this long; None waits until the
            lease is free or the run's stop flag is set.
        on_wait: Called with the current holder on each attempt that found it busy, so a
            person sees who they are waiting for.
    """

    timeout_s: float | None = None
    on_wait: Callable[[LeaseInfo], None] | None = None


class RunListener(Protocol):
    """Told when a run finished and when a person decided on holds (alerts listen)."""

    def run_finished(self, result: RunResult) -> None:
        """After the run row is closed; must not block (deliver in the background)."""

    def hold_decided(self, holds: Sequence[WaitingHold], decision: str, by: str) -> None:
        """After a release or rejection is recorded."""


class Syncer:
    """Runs sync cycles for one workspace.

    Args:
        db: The (migrated) store.
        workspace: Whose data.
        rules: The loaded mappings.
        pullers: Connector name -> its read side (`connectors.base.ContactSource`).
        writers: API name -> writer.
        drift_readers: API name -> member reader, for reconcile.
        max_removals_pct: `safety.max_removals_pct`.
        max_removals: `safety.max_removals`.
        api_counters: Returns `api -> (calls, 429s)` so far; used for run figures.
        clock: The run's clock: rules are evaluated against it, and the run, its ledger
            rows, outbox states and audit events are stamped with it.
        lease_ttl: How long the apply lease outlives a writer that stopped renewing it.
        lease_poll: Seconds between attempts while another writer holds the lease.
        lease_heartbeat_s: Seconds between renewals while a run thinks (fenced writes renew
            it too); `lease_ttl / 3` by default.
        on_deleted_target: `recreate` or `stop`: what reconcile does about an owned list or
            tag a person deleted (`syncd.engine.deleted_targets`).
        listener: Told of finished runs and decisions (the alerts); its failures are logged,
            never raised.
        min_dwell: `safety.min_dwell`: anti-flapping for segments that set none.
        write_properties: `hubspot.write_properties`: plan the `syncd_segments` /
            `syncd_journey_stage` contact properties (off: lists and tags only, and no echo of
            property writes for the next incremental pull to re-read).
    """

    def __init__(
        self,
        db: Engine,
        workspace: str,
        rules: RuleSet,
        *,
        pullers: Mapping[str, ContactSource],
        writers: Mapping[str, Writer],
        drift_readers: Mapping[str, MemberReader] | None = None,
        max_removals_pct: float = 20.0,
        max_removals: int = 1000,
        api_counters: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
        clock: Clock,
        lease_ttl: timedelta = APPLY_LEASE_TTL,
        lease_poll: float = 2.0,
        lease_heartbeat_s: float | None = None,
        on_deleted_target: OnDeleted = "recreate",
        listener: RunListener | None = None,
        min_dwell: timedelta = timedelta(0),
        write_properties: bool = True,
    ) -> None:
        self.db = db
        self.workspace = workspace
        self.rules = rules
        self.pullers = dict(pullers)
        self.writers = dict(writers)
        self.drift_readers = dict(drift_readers or {})
        self.max_removals_pct = max_removals_pct
        self.max_removals = max_removals
        self.api_counters = api_counters or (lambda: {})
        self.clock = clock
        self.lease_ttl = lease_ttl
        self.lease_poll = lease_poll
        self.lease_heartbeat_s = lease_heartbeat_s
        self.on_deleted_target: OnDeleted = on_deleted_target
        self.listener = listener
        self.min_dwell = min_dwell
        self.write_properties = write_properties

    # -- public entry points -------------------------------------------------------------

    def sync(
        self,
        *,
        trigger: str = "manual",
        full: bool = False,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[str, int], None] | None = None,
        lease: HeldLease | None = None,
        wait: LeaseWait | None = None,
    ) -> RunResult:
        """One cycle. A dry run pulls and plans but records no run and writes nothing remote.

        Args:
            trigger: `manual`, `schedule`, `reconcile`.
            full: Pull everything and detect drift.
            dry_run: Plan only.
            stop: Set to stop after the batch in flight (graceful shutdown).
            progress: Called with `(phase, rows)` as pages are stored and batches applied.
            lease: The apply lease, when the caller (the daemon) already holds it; taken
                here otherwise.
            wait: How to wait for the lease when taking it.

        Raises:
            LeaseBusyError: Another writer holds the lease and `wait` gave up.
        """
        stop = stop or threading.Event()
        if dry_run:
            return self._dry_run(full=full, stop=stop, progress=progress)
        with self._writing(lease, wait, stop) as held:
            started = self.clock()
            before = dict(self.api_counters())
            run_id = start_run(self.db, held, self.workspace, trigger, full, started)
            result = RunResult(run_id, RunStatus.RUNNING, trigger, Plan(), started_at=started)
            with run_context(run_id=run_id, trigger=trigger, workspace=self.workspace):
                guarded(
                    result,
                    held,
                    lambda: self._cycle(
                        result, held, full=full, dry_run=dry_run, stop=stop, progress=progress
                    ),
                )
                result.finished_at = self.clock()
                finish_run(self.db, held, result, before, self.api_counters())
        self._tell(lambda listener: listener.run_finished(result))
        return result

    def _dry_run(
        self,
        *,
        full: bool,
        stop: threading.Event,
        progress: Callable[[str, int], None] | None,
    ) -> RunResult:
        """A whole cycle but the journal and apply, on a scratch copy of the store.

        It takes no lease and records no run: nothing it does is kept (`store/scratch.py`),
        not even crash recovery or a lease row.
        """
        started = self.clock()
        result = RunResult(None, RunStatus.RUNNING, "dry-run", Plan(), started_at=started)
        with scratch(self.db) as db, run_context(trigger="dry-run", workspace=self.workspace):
            dry = copy.copy(self)
            dry.db = db
            guarded(
                result,
                None,
                lambda: dry._cycle(
                    result, UNFENCED, full=full, dry_run=True, stop=stop, progress=progress
                ),
            )
            result.samples = sample_changes(db, result.plan)
        result.finished_at = self.clock()
        return result

    def plan_only(self, rules: RuleSet | None = None) -> RunResult:
        """What would change against the stored data, without pulling or writing."""
        rules = rules or self.rules
        segmented, plan = self._segment_and_plan(rules)
        result = RunResult(None, RunStatus.SUCCESS, "plan", plan, segmented=segmented)
        result.samples = sample_changes(self.db, plan)
        result.held_reasons = list(
            removal_guard(plan, max_pct=self.max_removals_pct, max_abs=self.max_removals).values()
        )
        return result

    def undo(
        self,
        run_id: int,
        *,
        stop: threading.Event | None = None,
        lease: HeldLease | None = None,
        wait: LeaseWait | None = None,
    ) -> RunResult:
        """Revert the memberships run `run_id` changed (`syncd undo --run ID`).

        The reverting changes go through the same guards, outbox and apply as any run, and
        the undo is itself a run (trigger `undo`) in the history and the audit log.

        Raises:
            ConfigError: Unknown run, or nothing left to undo.
            LeaseBusyError: Another writer holds the lease and `wait` gave up.
        """
        stop = stop or threading.Event()
        with self._writing(lease, wait, stop) as held:
            with self.db.begin() as conn:
                ledger = load_ledger(conn, self.workspace)
                changes = undo_changes(conn, self.workspace, run_id, ledger)
            plan = Plan(changes=changes)
            for target, rows in ledger.items():
                plan.owned[target] = sum(
                    1 for e in rows.values() if e.state == MembershipState.ADDED
                )
            started = self.clock()
            before = dict(self.api_counters())
            new_id = start_run(self.db, held, self.workspace, "undo", False, started)
            result = RunResult(new_id, RunStatus.RUNNING, "undo", plan, started_at=started)
            result.counts.undo_of = run_id
            tripped = removal_guard(plan, max_pct=self.max_removals_pct, max_abs=self.max_removals)
            result.held_reasons = list(tripped.values())
            with run_context(run_id=new_id, trigger="undo", workspace=self.workspace):
                log.info(Event.RUN_UNDO, undo_of=run_id, changes=len(changes))
                guarded(
                    result,
                    held,
                    lambda: self._journal_and_apply(
                        result, plan, held, tripped, stop=stop, progress=None
                    ),
                )
                result.finished_at = self.clock()
                finish_run(self.db, held, result, before, self.api_counters())
        self._tell(lambda listener: listener.run_finished(result))
        return result

    def release(
        self,
        run_id: int,
        *,
        target: str | None = None,
        by: str | None = None,
        stop: threading.Event | None = None,
        lease: HeldLease | None = None,
        wait: LeaseWait | None = None,
    ) -> RunResult:
        """Apply the held plan of a run (`syncd apply --run ID`, the console's Approve).

        The holds are checked and marked decided under the lease, so two approvals of one
        hold cannot both apply it. The plan applied is the newest one (later runs re-plan a
        held target), and the release is recorded with `by` and the time.

        Args:
            run_id: The run holding the target(s), or the run that re-planned them last.
            target: Only this target; every target of the run that waits otherwise.
            by: Who decided (the OS user by default).
            stop: Set to stop after the batch in flight.
            lease: The apply lease, when the caller already holds it.
            wait: How to wait for the lease when taking it.

        Raises:
            ConfigError: Unknown run, or nothing of it waits for a decision.
            LeaseBusyError: Another writer holds the lease and `wait` gave up.
        """
        stop = stop or threading.Event()
        with self._writing(lease, wait, stop) as held:
            holds = self._decide(held, run_id, target, RELEASED, by)
            holding = holds[0].run_id
            runs = table_of(SyncRun)
            with self.db.begin() as conn:
                row = conn.execute(select(runs).where(runs.c.id == holding)).mappings().one()
            before = dict(self.api_counters())
            result = RunResult(holding, RunStatus.RUNNING, row["trigger"], Plan())
            result.counts = RunCounts.from_json(row["counts"])
            result.started_at = self.clock()
            with run_context(run_id=holding, trigger="release", workspace=self.workspace):
                log.info(Event.RUN_RELEASED, run_id=holding, targets=[h.target for h in holds])

                def body() -> None:
                    result.apply = apply_run(
                        self.db,
                        self.workspace,
                        holding,
                        self.writers,
                        clock=self.clock,
                        stop=stop,
                        fence=held,
                    )
                    settle(result, result.apply)
                    if result.status is RunStatus.SUCCESS and row["error_class"]:
                        # What the run failed at before is not undone by the release.
                        result.status = RunStatus.PARTIAL
                        result.error_class = row["error_class"]
                        result.error = row["error_message"]
                        result.reason = row["reason_code"]
                    if result.counts.held and result.status is RunStatus.SUCCESS:
                        result.status = RunStatus(row["status"])

                guarded(result, held, body)
                result.finished_at = self.clock()
                finish_run(self.db, held, result, before, self.api_counters())
        self._tell(lambda listener: listener.run_finished(result))
        return result

    def reject(
        self,
        run_id: int,
        *,
        target: str | None = None,
        by: str | None = None,
        lease: HeldLease | None = None,
        wait: LeaseWait | None = None,
    ) -> list[WaitingHold]:
        """Discard the held plan of a run (`syncd reject --run ID`, the console's Reject).

        Nothing is written remotely and the ledger stays as it is: the next run plans the
        target again against the rules and data of its time, and the same guard may hold it
        again. The rejection is recorded with `by` and the time.

        Returns:
            The holds rejected.

        Raises:
            ConfigError: Unknown run, or nothing of it waits for a decision.
            LeaseBusyError: Another writer holds the lease and `wait` gave up.
        """
        with self._writing(lease, wait, threading.Event()) as held:
            return self._decide(held, run_id, target, REJECTED, by)

    def _decide(
        self,
        held: HeldLease,
        run_id: int,
        target: str | None,
        decision: HoldStatus,
        by: str | None,
    ) -> list[WaitingHold]:
        who = by or local_user()
        with fenced(self.db, held) as conn:
            holds = holds_to_decide(conn, self.workspace, run_id, target)
            record(conn, self.workspace, holds, decision, who, now=self.clock())
        self._tell(lambda listener: listener.hold_decided(holds, str(decision), who))
        for decided in holds:
            log.info(
                Event.HOLD_DECIDED,
                run_id=decided.run_id,
                target=decided.target,
                decision=str(decision),
                by=who,
            )
        return holds

    def _tell(self, call: Callable[[RunListener], None]) -> None:
        """Tell the listener; an alert that cannot be raised never fails what happened."""
        if self.listener is None:
            return
        try:
            call(self.listener)
        except Exception:
            log.exception(Event.ALERT_FAILED, stage="notify")

    # -- the lease ----------------------------------------------------------------------

    @contextmanager
    def _writing(
        self, lease: HeldLease | None, wait: LeaseWait | None, stop: threading.Event
    ) -> Iterator[HeldLease]:
        """The workspace's apply lease for one write operation, then crash recovery.

        A lease handed over by the caller is used as it is; otherwise one is taken (waiting as
        `wait` says) and freed at the end. Losing it sets `stop`, so the run stops after the
        batch in flight; its fenced writes would fail anyway.
        """
        if lease is not None:
            lease.on_lost(stop.set)
            recover_interrupted(self.db, self.workspace, lease, self.clock())
            yield lease
            return
        wait = wait or LeaseWait()
        with hold(
            self.db,
            apply_lease_name(self.workspace),
            make_holder_id(),
            self.lease_ttl,
            timeout=wait.timeout_s,
            stop=stop,
            poll=self.lease_poll,
            heartbeat=self.lease_heartbeat_s,
            on_wait=wait.on_wait,
            on_lost=stop.set,
        ) as held:
            recover_interrupted(self.db, self.workspace, held, self.clock())
            yield held

    # -- the cycle ----------------------------------------------------------------------

    def _cycle(
        self,
        result: RunResult,
        held: Fence,
        *,
        full: bool,
        dry_run: bool,
        stop: threading.Event,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        failures: dict[str, SyncdError] = {}
        result.pulled = pull_all(
            self.db,
            self.workspace,
            self.pullers,
            full=full,
            run_id=result.run_id,
            clock=self.clock,
            progress=progress,
            fence=held,
            failures=failures,
        )
        readers = {k: v for k, v in self.drift_readers.items() if k not in failures}
        if full and readers and result.run_id is not None:
            result.counts.drift = detect_drift(
                self.db,
                self.workspace,
                result.run_id,
                readers,
                now=self.clock(),
                fence=held,
                on_deleted=self.on_deleted_target,
            )
        empty = empty_pull_guard(
            {k: v.records for k, v in result.pulled.items() if k not in failures},
            last_full_pull(self.db, self.workspace),
            full=full,
        )
        release_free_memory()  # segmentation starts from what the pull left
        segmented, plan = self._segment_and_plan(self.rules)
        release_free_memory()
        result.segmented = segmented
        if failures:
            # Rules read that vendor's last-known values; nothing is removed for lack of data.
            plan, result.counts.deferred = stale_data_guard(plan)
            result.counts.stale_sources = sorted(failures)
        for target, n in plan.deferred.items():
            result.counts.deferred.setdefault(target, {})["dwell"] = n
        result.plan = plan
        tripped = removal_guard(plan, max_pct=self.max_removals_pct, max_abs=self.max_removals)
        if empty:
            # A pull that lost everything holds every target: its removals cannot be trusted.
            for target in plan.counts():
                tripped.setdefault(target, "; ".join(empty))
        result.held_reasons = list(dict.fromkeys([*empty, *tripped.values()]))
        if not dry_run and result.run_id is not None:
            with fenced(self.db, held) as conn:
                record_segment_history(
                    conn, self.workspace, result.run_id, self.rules, segmented, self.clock()
                )
        if dry_run:
            result.status = RunStatus.HELD if tripped else RunStatus.SUCCESS
            return
        assert isinstance(held, HeldLease)
        self._journal_and_apply(result, plan, held, tripped, stop=stop, progress=progress)
        note_deleted(result, result.counts.drift)
        if failures:
            note_stale(result, failures)

    def _journal_and_apply(
        self,
        result: RunResult,
        plan: Plan,
        held: HeldLease,
        tripped: Mapping[str, str],
        *,
        stop: threading.Event | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        """Write the plan to the outbox, hold the targets guards tripped on, apply the rest.

        Targets already waiting for a decision stay held: their newer plan replaces the
        waiting one under the run that holds them (`engine/holds.py`). The run is `held` when
        it holds new targets and has nothing else to apply, `partial` when it holds new
        targets beside what it applied.
        """
        run_id = result.run_id
        assert run_id is not None
        with fenced(self.db, held) as conn:
            if plan.releases:
                set_ledger(
                    conn,
                    self.workspace,
                    [(t, c, MembershipState.REMOVED, None) for t, c in plan.releases],
                    run_id,
                    now=self.clock(),
                )
            holds = carry(conn, self.workspace, run_id, plan.counts(), tripped, now=self.clock())
            write_outbox(
                conn,
                self.workspace,
                run_id,
                plan.changes,
                now=self.clock(),
                held={t: h.run_id for t, h in holds.items()},
            )
        self._note_holds(result, plan, holds)
        new = [h for h in holds.values() if h.new]
        if new and len(result.plan.changes) == sum(
            1 for c in result.plan.changes if c.target in holds
        ):
            result.status = RunStatus.HELD
            return
        result.apply = apply_run(
            self.db,
            self.workspace,
            run_id,
            self.writers,
            clock=self.clock,
            stop=stop,
            on_batch=progress,
            create=[ref for st in self._targets(self.rules) for ref in st.refs()],
            fence=held,
        )
        # Apply marked each journalled row: their old versions go before the next run looks.
        vacuum_after(self.db, table_of(OutboxEntry).name, len(plan.changes))
        settle(result, result.apply)
        if new and result.status is RunStatus.SUCCESS:
            result.status = RunStatus.PARTIAL

    def _note_holds(self, result: RunResult, plan: Plan, holds: Mapping[str, HeldTarget]) -> None:
        """Record the run's holds; a carried hold's changes belong to the run holding it."""
        result.held = dict(holds)
        result.counts.held = {t: h.reason for t, h in holds.items() if h.new}
        result.counts.waiting = {t: h.run_id for t, h in holds.items() if not h.new}
        result.held_reasons = [h.reason for h in holds.values() if h.new]
        for each in holds.values():
            if each.new:
                log.warning(Event.RUN_HELD, target=each.target, reason=each.reason)
            else:
                log.info(Event.HOLD_WAITING, target=each.target, since_run=each.run_id)
        if result.counts.waiting:
            result.plan = replace(
                plan, changes=[c for c in plan.changes if c.target not in result.counts.waiting]
            )

    def _segment_and_plan(self, rules: RuleSet) -> tuple[Segmented, Plan]:
        """Segment every contact and plan each batch as it comes, with its ledger rows only.

        Neither the contacts' views nor the ledger are ever held whole: each batch of views
        goes to the planner with the ledger rows of its contact id range (`ledger_for`), so
        memory holds one batch of each whatever the workspace's size. The apply lease keeps
        other writers off the ledger meanwhile.
        """
        with self.db.begin() as conn:
            targets, owned = ledger_summary(conn, self.workspace)
        planner = Planner(
            self._targets(rules),
            targets,
            owned,
            write_properties=self.write_properties,
            now=self.clock(),
        )

        def plan_batch(views: list[ContactView]) -> None:
            if not views:
                return
            ids = [v.contact_id for v in views]
            with self.db.begin() as conn:
                ledger = ledger_for(conn, self.workspace, min(ids), max(ids))
            planner.add(views, ledger)

        segmented = segment_store(self.db, self.workspace, rules, self.clock(), plan_batch)
        return segmented, planner.plan

    def _targets(self, rules: RuleSet) -> list[SegmentTargets]:
        """The configured targets, less those a person deleted and syncd leaves deleted."""
        targets = segment_targets(rules, self.min_dwell)
        if self.on_deleted_target != "stop":  # switched back: they are made again
            return targets
        return without(targets, kept_deleted(self.db, self.workspace))
