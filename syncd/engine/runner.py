"""One sync run, start to finish: pull, segment, plan, guard, journal, apply, summarise.

`SyncEngine` is what the CLI, the daemon's jobs and the demo call. It owns no connector
code: the connectors and their writers are handed over (`syncd.engine.wiring` builds them
from the settings), which keeps imports one way and lets tests use the sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import Engine, select

from syncd.audit import get_logger, run_context
from syncd.engine.apply import ApplyReport, Writer, apply_run
from syncd.engine.drift import DriftReader, detect_drift
from syncd.engine.guards import empty_pull_guard, removal_guard
from syncd.engine.ledger import load_ledger, set_ledger, write_outbox
from syncd.engine.plan import Plan, make_plan
from syncd.engine.pull import Puller, pull_all
from syncd.engine.runs import (
    RunResult,
    finish_run,
    last_full_pull,
    newer_run,
    start_run,
)
from syncd.engine.segmentation import Segmented, segment_store, segment_targets
from syncd.engine.undo import undo_changes
from syncd.errors import ConfigError, SyncdError, classify
from syncd.segments import RuleSet
from syncd.store.models import MembershipState, RunStatus, SyncRun
from syncd.store.types import table_of, utcnow

log = get_logger(__name__)


class SyncEngine:
    """Runs sync cycles for one workspace.

    Args:
        engine: The (migrated) store.
        workspace: Whose data.
        rules: The loaded mappings.
        pullers: Connector name -> puller (see `syncd.engine.pull.Puller`).
        writers: API name -> writer.
        drift_readers: API name -> member reader, for reconcile.
        max_removals_pct: `safety.max_removals_pct`.
        max_removals: `safety.max_removals`.
        api_counters: Returns `api -> (calls, 429s)` so far; used for run figures.
        clock: The time source; rules are evaluated against it.
    """

    def __init__(
        self,
        engine: Engine,
        workspace: str,
        rules: RuleSet,
        *,
        pullers: Mapping[str, Puller],
        writers: Mapping[str, Writer],
        drift_readers: Mapping[str, DriftReader] | None = None,
        max_removals_pct: float = 20.0,
        max_removals: int = 1000,
        api_counters: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.workspace = workspace
        self.rules = rules
        self.pullers = dict(pullers)
        self.writers = dict(writers)
        self.drift_readers = dict(drift_readers or {})
        self.max_removals_pct = max_removals_pct
        self.max_removals = max_removals
        self.api_counters = api_counters or (lambda: {})
        self.clock = clock

    # -- public entry points -------------------------------------------------------------

    def sync(
        self,
        *,
        trigger: str = "manual",
        full: bool = False,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> RunResult:
        """One cycle. A dry run pulls and plans but records no run and writes nothing remote."""
        stop = stop or threading.Event()
        started = self.clock()
        before = dict(self.api_counters())
        run_id = None if dry_run else start_run(self.engine, self.workspace, trigger, full, started)
        result = RunResult(run_id, RunStatus.RUNNING, trigger, Plan(), started_at=started)
        with run_context(run_id=run_id, trigger=trigger, workspace=self.workspace):
            _guarded(
                result,
                lambda: self._cycle(
                    result, full=full, dry_run=dry_run, stop=stop, progress=progress
                ),
            )
            result.finished_at = self.clock()
            finish_run(self.engine, result, before, self.api_counters())
        return result

    def plan_only(self, rules: RuleSet | None = None) -> RunResult:
        """What would change against the stored data, without pulling or writing."""
        rules = rules or self.rules
        segmented = segment_store(self.engine, self.workspace, rules, self.clock())
        plan = self._plan(segmented, rules)
        result = RunResult(None, RunStatus.SUCCESS, "plan", plan, segmented=segmented)
        result.held_reasons = removal_guard(
            plan, max_pct=self.max_removals_pct, max_abs=self.max_removals
        )
        return result

    def undo(self, run_id: int, *, stop: threading.Event | None = None) -> RunResult:
        """Revert the memberships run `run_id` changed (`syncd undo --run ID`).

        The reverting changes go through the same guards, outbox and apply as any run, and
        the undo is itself a run (trigger `undo`) in the history and the audit log.

        Raises:
            ConfigError: Unknown run, or nothing left to undo.
        """
        with self.engine.begin() as conn:
            ledger = load_ledger(conn, self.workspace)
            changes = undo_changes(conn, self.workspace, run_id, ledger)
        plan = Plan(changes=changes)
        for target, rows in ledger.items():
            plan.owned[target] = sum(1 for e in rows.values() if e.state == MembershipState.ADDED)
        started = self.clock()
        before = dict(self.api_counters())
        new_id = start_run(self.engine, self.workspace, "undo", False, started)
        result = RunResult(new_id, RunStatus.RUNNING, "undo", plan, started_at=started)
        result.counts["undo_of"] = run_id
        result.held_reasons = removal_guard(
            plan, max_pct=self.max_removals_pct, max_abs=self.max_removals
        )
        with run_context(run_id=new_id, trigger="undo", workspace=self.workspace):
            log.info("run.undo", undo_of=run_id, changes=len(changes))
            _guarded(
                result, lambda: self._journal_and_apply(result, plan, stop=stop, progress=None)
            )
            result.finished_at = self.clock()
            finish_run(self.engine, result, before, self.api_counters())
        return result

    def release(self, run_id: int, *, stop: threading.Event | None = None) -> RunResult:
        """Apply the stored plan of a held run (`syncd apply --run ID`)."""
        runs = table_of(SyncRun)
        with self.engine.begin() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None or row["workspace"] != self.workspace:
            raise ConfigError(f"run {run_id} does not exist")
        if row["status"] != RunStatus.HELD:
            raise ConfigError(f"run {run_id} is {row['status']}, not held; nothing to release")
        newer = newer_run(self.engine, self.workspace, run_id)
        if newer is not None:
            raise ConfigError(
                f"run {run_id} was superseded by run {newer}; its plan is no longer current",
                hint="run `syncd plan` to see what a new run would do",
            )
        before = dict(self.api_counters())
        result = RunResult(run_id, RunStatus.RUNNING, row["trigger"], Plan())
        result.counts = dict(row["counts"] or {})
        result.started_at = self.clock()
        with run_context(run_id=run_id, trigger="release", workspace=self.workspace):
            log.info("run.released", run_id=run_id)

            def body() -> None:
                result.apply = apply_run(
                    self.engine, self.workspace, run_id, self.writers, stop=stop
                )
                result.status = self._status_after_apply(result.apply)

            _guarded(result, body)
            result.finished_at = self.clock()
            finish_run(self.engine, result, before, self.api_counters())
        return result

    # -- the cycle ----------------------------------------------------------------------

    def _cycle(
        self,
        result: RunResult,
        *,
        full: bool,
        dry_run: bool,
        stop: threading.Event,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        result.pulled = pull_all(
            self.engine,
            self.workspace,
            self.pullers,
            full=full,
            run_id=result.run_id,
            progress=progress,
        )
        if full and self.drift_readers and result.run_id is not None:
            result.counts["drift"] = detect_drift(
                self.engine, self.workspace, result.run_id, self.drift_readers
            )
        reasons = empty_pull_guard(
            {k: v.records for k, v in result.pulled.items()},
            last_full_pull(self.engine, self.workspace),
            full=full,
        )
        segmented = segment_store(self.engine, self.workspace, self.rules, self.clock())
        result.segmented = segmented
        plan = self._plan(segmented, self.rules)
        result.plan = plan
        reasons += removal_guard(plan, max_pct=self.max_removals_pct, max_abs=self.max_removals)
        result.held_reasons = reasons
        if dry_run:
            result.status = RunStatus.HELD if reasons else RunStatus.SUCCESS
            return
        self._journal_and_apply(result, plan, stop=stop, progress=progress)

    def _journal_and_apply(
        self,
        result: RunResult,
        plan: Plan,
        *,
        stop: threading.Event | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        """Write the plan to the outbox, then hold the run or apply it."""
        assert result.run_id is not None
        with self.engine.begin() as conn:
            if plan.releases:
                set_ledger(
                    conn,
                    self.workspace,
                    [(t, c, MembershipState.REMOVED, None) for t, c in plan.releases],
                    result.run_id,
                )
            write_outbox(conn, self.workspace, result.run_id, plan.changes)
        if result.held_reasons:
            result.status = RunStatus.HELD
            for reason in result.held_reasons:
                log.warning("run.held", reason=reason)
            return
        result.apply = apply_run(
            self.engine,
            self.workspace,
            result.run_id,
            self.writers,
            stop=stop,
            on_batch=progress,
            create=[ref for st in segment_targets(self.rules) for ref in st.refs()],
        )
        result.status = self._status_after_apply(result.apply)

    def _plan(self, segmented: Segmented, rules: RuleSet) -> Plan:
        with self.engine.begin() as conn:
            ledger = load_ledger(conn, self.workspace)
        return make_plan(segmented.contacts, segment_targets(rules), ledger)

    @staticmethod
    def _status_after_apply(report: ApplyReport) -> RunStatus:
        if report.stopped:
            return RunStatus.PARTIAL
        troubled = any(c["rejected"] or c["retry"] for c in report.counts.values())
        return RunStatus.PARTIAL if troubled else RunStatus.SUCCESS


def _guarded(result: RunResult, body: Callable[[], None]) -> None:
    """Run `body`; any exception marks the run failed with its class instead of escaping."""
    try:
        body()
    except Exception as exc:
        result.status = RunStatus.FAILED
        result.error_class = classify(exc)
        result.error = str(exc) if isinstance(exc, SyncdError) else repr(exc)
        if isinstance(exc, ConfigError):
            log.error("run.failed", error_class=result.error_class, error=result.error)
        else:
            log.exception("run.failed", error_class=result.error_class)
