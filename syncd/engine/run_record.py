"""Run rows: what one run did, how it is recorded, and how it is summarised.

`RunResult` is what every entry point of the engine returns; the functions here start and
finish the `sync_runs` row and write the one canonical log line per run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from syncd.engine.apply import ApplyReport
from syncd.engine.holds import HeldTarget
from syncd.engine.plan import Plan
from syncd.engine.profiles.merge import PullFigures
from syncd.engine.segmentation import Segmented
from syncd.errors import ExitCode
from syncd.events import Event
from syncd.failures import ErrorClass, Reason, stored_advice
from syncd.logs import get_logger
from syncd.store.counts import RunCounts, TargetFigures
from syncd.store.history import run_failures
from syncd.store.lease import Fence, HeldLease, LeaseLostError, fenced
from syncd.store.models import RunStatus, SyncRun
from syncd.store.types import table_of

log = get_logger(__name__)

EXIT_CODES = {
    RunStatus.SUCCESS: ExitCode.OK,
    RunStatus.FAILED: ExitCode.FAILED,
    RunStatus.INTERRUPTED: ExitCode.FAILED,
    RunStatus.HELD: ExitCode.HELD,
    RunStatus.PARTIAL: ExitCode.PARTIAL,
}


@dataclass
class RunResult:
    """What one run did; `exit_code` follows the command-line contract."""

    run_id: int | None
    status: RunStatus
    trigger: str
    plan: Plan
    segmented: Segmented | None = None
    pulled: dict[str, PullFigures] = field(default_factory=dict)
    apply: ApplyReport | None = None
    held_reasons: list[str] = field(default_factory=list)
    #: Target -> sample changes for review, taken where the plan was made (dry runs).
    samples: dict[str, list[dict[str, Any]]] | None = None
    #: Target -> how this run holds it (new holds and holds carried from earlier runs).
    held: dict[str, HeldTarget] = field(default_factory=dict)
    error_class: str | None = None
    error: str | None = None
    reason: Reason | None = None
    counts: RunCounts = field(default_factory=RunCounts)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def exit_code(self) -> ExitCode:
        """0 success, 1 failed or interrupted, 2 configuration error, 3 held, 4 partial.

        A configuration error wins over `partial`: when one vendor refused the credentials,
        a person must act even though the other vendor's changes were applied.
        """
        troubled = self.status in (RunStatus.FAILED, RunStatus.PARTIAL)
        if troubled and self.error_class == ErrorClass.CONFIG:
            return ExitCode.USAGE
        return EXIT_CODES[self.status]


def start_run(
    db: Engine,
    fence: Fence,
    workspace: str,
    trigger: str,
    full: bool,
    started: datetime,
) -> int:
    """Record a new run as `running` (under the lease, naming its holder); returns its id."""
    runs = table_of(SyncRun)
    holder = fence.holder if isinstance(fence, HeldLease) else None
    with fenced(db, fence) as conn:
        run_id = conn.execute(
            runs.insert()
            .values(
                workspace=workspace,
                trigger=trigger,
                status=RunStatus.RUNNING,
                full=full,
                dry_run=False,
                started_at=started,
                counts={},
                api_calls=0,
                http_429=0,
                holder=holder,
            )
            .returning(runs.c.id)
        ).scalar_one()
    return int(run_id)


def finish_run(
    db: Engine,
    fence: Fence,
    result: RunResult,
    before: Mapping[str, tuple[int, int]],
    after: Mapping[str, tuple[int, int]],
) -> None:
    """Store the run's figures and status and write its one canonical log line.

    When the lease was lost meanwhile, the run row is still closed as `interrupted` (unless
    the new holder closed it already), without the fence: it is this run's own row, and the
    figures it carries are the exact ones. Nothing else is written.

    Args:
        db: The store.
        fence: The lease the run was made under.
        result: The finished run.
        before: `api -> (calls, 429s)` when the run started.
        after: The same when it ended.
    """
    calls = {api: after[api][0] - before.get(api, (0, 0))[0] for api in after}
    limited = {api: after[api][1] - before.get(api, (0, 0))[1] for api in after}
    counts = result.counts
    counts.targets = _target_counts(result)
    counts.pulled = {k: v.records for k, v in result.pulled.items()} or counts.pulled
    # A released run adds its calls to those of the run that planned it.
    counts.api_calls = _add(counts.api_calls, calls)
    counts.http_429 = _add(counts.http_429, limited)
    if result.segmented is not None:
        counts.segment_sizes = dict(sorted(result.segmented.sizes.items()))
        counts.stage_sizes = dict(sorted(result.segmented.stages.items()))
    if result.held_reasons:
        counts.held_reasons = result.held_reasons
    elif result.run_id is not None and not counts.held:
        counts.held_reasons = []
    failures: list[dict[str, Any]] = []
    if result.run_id is not None and result.status in (RunStatus.PARTIAL, RunStatus.FAILED):
        with db.connect() as conn:
            failures = run_failures(conn, [result.run_id], 3).get(result.run_id, [])
    log.info(
        Event.RUN_FINISHED,
        status=str(result.status),
        duration_s=_duration(result),
        targets=counts.targets,
        pulled=counts.pulled,
        api_calls=sum(calls.values()),
        http_429=sum(limited.values()),
        error_class=result.error_class,
        error=result.error,
        reason=result.reason,
        hint=stored_advice(result.reason, result.error_class, result.error),
        failures=[f"{f['count']} x {f['target']}: {f['message']} ({f['hint']})" for f in failures],
    )
    if result.run_id is None:
        return
    runs = table_of(SyncRun)
    values = {
        "status": result.status,
        "finished_at": result.finished_at,
        "counts": counts.to_json(),
        "api_calls": runs.c.api_calls + sum(calls.values()),
        "http_429": runs.c.http_429 + sum(limited.values()),
        "error_class": result.error_class,
        "error_message": result.error,
        "reason_code": result.reason,
    }
    try:
        with fenced(db, fence) as conn:
            conn.execute(runs.update().where(runs.c.id == result.run_id).values(**values))
    except LeaseLostError:
        with db.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == result.run_id, runs.c.status == RunStatus.RUNNING)
                .values(**values)
            )


def last_full_pull(db: Engine, workspace: str) -> dict[str, int] | None:
    """`api -> contacts` of the newest successful full pull, for the empty-pull guard."""
    runs = table_of(SyncRun)
    with db.begin() as conn:
        counts = conn.execute(
            select(runs.c.counts)
            .where(
                runs.c.workspace == workspace,
                runs.c.full.is_(True),
                runs.c.status.in_([RunStatus.SUCCESS, RunStatus.PARTIAL]),
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    if not counts:
        return None
    return RunCounts.from_json(counts).pulled


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted({*a, *b})}


def _duration(result: RunResult) -> float:
    if result.started_at is None or result.finished_at is None:
        return 0.0
    return round((result.finished_at - result.started_at).total_seconds(), 3)


def _target_counts(result: RunResult) -> dict[str, TargetFigures]:
    # A released run starts from the figures its planning run recorded.
    out = {t: Counter(row) for t, row in result.counts.targets.items()}
    for target, row in result.plan.counts().items():
        c = out.setdefault(target, Counter())
        c["planned_add"] += row.get("add", 0)
        c["planned_remove"] += row.get("remove", 0)
        c["planned_set"] += row.get("set", 0)
        c["skipped_consent"] += row.get("skipped_consent", 0)
    if result.apply is not None:
        for target, counter in result.apply.counts.items():
            out.setdefault(target, Counter()).update(counter)
    return {t: {k: v for k, v in sorted(c.items()) if v} for t, c in sorted(out.items())}
