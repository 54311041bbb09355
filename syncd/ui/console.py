"""The console over a runtime: its store, rules and the engine's release path for Approve.

`syncd ui` and `syncd run` (with `ui.enabled`) both build the console here, so the Approve
button and `syncd apply --run` share one code path: `Syncer.release`, under the apply lease.
"""

from __future__ import annotations

from fastapi import FastAPI

from syncd.engine.run_record import RunResult
from syncd.engine.syncer import LeaseWait
from syncd.runtime import Runtime
from syncd.ui.app import create_app

#: How long the console's Approve waits for another writer before answering "waiting for".
CONSOLE_LEASE_WAIT_S = 10.0


def console_for(
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
    ui = rt.settings.ui
    token = ui.token.get_secret_value() if ui.token else None
    syncer = rt.syncer

    def approve(run_id: int) -> RunResult:
        # The same release as `syncd apply --run`, under the same lease; a web request waits
        # only briefly for another writer and then says whom it is waiting for.
        return syncer.release(
            run_id, by=f"console:{ui.user_label}", wait=LeaseWait(timeout_s=lease_wait_s)
        )

    app = create_app(
        rt.db,
        rt.settings.workspace,
        rt.rules,
        token=token,
        approve=approve,
        allowed_hosts=ui.allowed_hosts,
        bind_hosts=[ui.host, bind_host or ui.host],
        session_ttl=ui.session_ttl,
    )
    return app, token
