"""`syncd run`: the engine on a schedule, with metrics and (optionally) the admin console.

Composes the pieces: one runtime for the daemon's life, a job that is a one-line call into
`SyncEngine.sync`, the conversion of its result into metrics figures, and retention pruning
after each run.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

from syncd.audit import get_logger
from syncd.config import Settings
from syncd.engine.lease import HeldLease
from syncd.engine.runner import LeaseWait
from syncd.engine.runs import RunResult
from syncd.engine.wiring import Runtime, open_runtime
from syncd.metrics import RunFigures
from syncd.retention import prune
from syncd.scheduler import RECONCILE, run_daemon
from syncd.store.types import utcnow

if TYPE_CHECKING:
    from fastapi import FastAPI

log = get_logger(__name__)

_APPLIED_ACTION = {"added": "add", "removed": "remove", "set": "set"}
#: How long the console's Approve waits for another writer before answering "waiting for".
CONSOLE_LEASE_WAIT_S = 10.0


def to_figures(result: RunResult) -> RunFigures:
    """The metrics view of one run."""
    changes: Counter[tuple[str, str, str]] = Counter()
    for target, row in result.counts.get("targets", {}).items():
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
        api_calls=dict(result.counts.get("api_calls", {})),
        http_429=dict(result.counts.get("http_429", {})),
    )


def sync_job(rt: Runtime, trigger: str, stop: threading.Event, lease: HeldLease) -> RunFigures:
    """One scheduled cycle: incremental on `schedule`; on `reconcile` a full pull, drift
    detection and pruning of audit rows past `audit.retention_days`."""
    result = rt.sync_engine.sync(trigger=trigger, full=trigger == RECONCILE, stop=stop, lease=lease)
    if trigger == RECONCILE and not stop.is_set():
        pruned = prune(rt.store, rt.settings.workspace, rt.settings.audit.retention_days, utcnow())
        log.info("retention.pruned", rows=pruned, retention_days=rt.settings.audit.retention_days)
    return to_figures(result)


def console_app(
    rt: Runtime, bind_host: str | None = None, *, lease_wait_s: float = CONSOLE_LEASE_WAIT_S
) -> tuple[FastAPI, str | None]:
    """The admin console over this runtime; Approve is the same release as `syncd apply`.

    Args:
        rt: The runtime whose store, rules and release path the console uses.
        bind_host: The address it will be served on (`syncd ui --host`), when not `ui.host`;
            with an empty `ui.allowed_hosts` both are names the console answers to.
        lease_wait_s: How long Approve waits for another writer before answering
            "waiting for <holder>" (nothing written).
    """
    from syncd.ui import create_app

    ui = rt.settings.ui
    token = ui.token.get_secret_value() if ui.token else None
    engine = rt.sync_engine

    def approve(run_id: int) -> RunResult:
        # The same release as `syncd apply --run`, under the same lease; a web request waits
        # only briefly for another writer and then says whom it is waiting for.
        return engine.release(run_id, wait=LeaseWait(timeout_s=lease_wait_s))

    app = create_app(
        rt.store,
        rt.settings.workspace,
        rt.rules,
        token=token,
        approve=approve,
        allowed_hosts=ui.allowed_hosts,
        bind_hosts=[ui.host, bind_host or ui.host],
        session_ttl=ui.session_ttl,
    )
    return app, token


def run_forever(settings: Settings) -> None:
    """Run the daemon until SIGTERM (the `syncd run` command)."""
    rt = open_runtime(settings)
    console = None
    try:
        if settings.ui.enabled:
            from syncd.ui import serve

            app, token = console_app(rt)
            console = serve(app, settings.ui.host, settings.ui.port, token, background=True)
            log.info("ui.serving", url=console.url)
        run_daemon(
            settings,
            lambda trigger, stop, lease: sync_job(rt, trigger, stop, lease),
            engine=rt.store,
            lease_ttl=settings.safety.lease_ttl,
        )
    finally:
        if console is not None:
            console.stop()
        rt.close()
