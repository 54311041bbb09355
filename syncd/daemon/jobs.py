"""The daemon's job: one scheduled cycle through `Syncer.sync`, and its metrics figures.

The job is a one-line call into the engine under the lease the daemon holds; after the nightly
reconcile it also prunes audit rows past `audit.retention_days`.
"""

from __future__ import annotations

import threading
from collections import Counter

from syncd.daemon.metrics import RunFigures
from syncd.daemon.scheduler import RECONCILE
from syncd.engine.run_record import RunResult
from syncd.events import Event
from syncd.logs import get_logger
from syncd.runtime import Runtime
from syncd.store.lease import HeldLease
from syncd.store.retention import prune
from syncd.store.types import utcnow

log = get_logger(__name__)

_APPLIED_ACTION = {"added": "add", "removed": "remove", "set": "set"}


def to_figures(result: RunResult) -> RunFigures:
    """The metrics view of one run."""
    changes: Counter[tuple[str, str, str]] = Counter()
    for target, row in result.counts.targets.items():
        kind = target.split(":", 1)[0]
        for key, n in row.items():
            if key in _APPLIED_ACTION:
                changes[kind, _APPLIED_ACTION[key], "applied"] += n
            elif key in ("rejected", "retry"):
                changes[kind, "write", key] += n
    errors: Counter[str] = Counter()
    if result.error_class:
        errors[result.error_class] += 1
    started = result.started_at or utcnow()
    return RunFigures(
        run_id=result.run_id,
        trigger=result.trigger,
        status=str(result.status),
        started_at=started,
        finished_at=result.finished_at or started,
        changes=dict(changes),
        errors=dict(errors),
        api_calls=dict(result.counts.api_calls),
        http_429=dict(result.counts.http_429),
    )


def sync_job(rt: Runtime, trigger: str, stop: threading.Event, lease: HeldLease) -> RunFigures:
    """One scheduled cycle.

    Incremental on `schedule`; on `reconcile` a full pull, drift detection and pruning of audit rows
    past `audit.retention_days`.
    """
    result = rt.syncer.sync(trigger=trigger, full=trigger == RECONCILE, stop=stop, lease=lease)
    if trigger == RECONCILE and not stop.is_set():
        pruned = prune(rt.db, rt.settings.workspace, rt.settings.audit.retention_days, utcnow())
        log.info(
            Event.RETENTION_PRUNED, rows=pruned, retention_days=rt.settings.audit.retention_days
        )
    return to_figures(result)
