"""The console over a runtime, or over settings alone when no connector is configured.

It gets the store, the rules, vendor links and, with a connector, the engine's release path.

`syncd ui` and `syncd run` (with `ui.enabled`) build the console here, so the Approve button
and `syncd apply --run` share one code path: `Syncer.release`, under the apply lease. Without
connector settings `open_console` still serves every page from the store; Approve is shown
disabled with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import Engine

from syncd.config import Settings
from syncd.engine.run_record import RunResult
from syncd.engine.syncer import LeaseWait
from syncd.errors import ConfigError
from syncd.runtime import Runtime, open_runtime
from syncd.segments import RuleSet, load_mappings
from syncd.store import open_store
from syncd.ui.app import create_app
from syncd.ui.links import ExternalLinks, datacenter
from syncd.ui.state import Approve, Reject

#: How long the console's Approve waits for another writer before answering "waiting for".
CONSOLE_LEASE_WAIT_S = 10.0


def links_for(settings: Settings) -> ExternalLinks:
    """Vendor links from `ui.hubspot_portal_id` and `ui.mailchimp_dc`.

    Without `ui.mailchimp_dc` the data centre comes from the API key, but only when syncd talks
    to Mailchimp itself: against the emulator (another `base_url`) a link would lead nowhere.
    """
    dc = settings.ui.mailchimp_dc
    mc = settings.mailchimp
    if dc is None and mc is not None:
        real = mc.base_url is None or ".api.mailchimp.com" in mc.base_url
        dc = datacenter(mc.api_key.get_secret_value(), mc.base_url) if real else None
    return ExternalLinks(settings.ui.hubspot_portal_id, dc)


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
    syncer = rt.syncer

    def approve(run_id: int) -> RunResult:
        # The same release as `syncd apply --run`, under the same lease; a web request waits
        # only briefly for another writer and then says whom it is waiting for.
        return syncer.release(
            run_id, by=f"console:{ui.user_label}", wait=LeaseWait(timeout_s=lease_wait_s)
        )

    def reject(run_id: int) -> object:
        # The same rejection as `syncd reject --run`, recorded with the console's user label.
        return syncer.reject(
            run_id, by=f"console:{ui.user_label}", wait=LeaseWait(timeout_s=lease_wait_s)
        )

    return _app(rt.db, rt.settings, rt.rules, bind_host, approve=approve, reject=reject)


def open_console(
    settings: Settings, bind_host: str | None = None, *, lease_wait_s: float = CONSOLE_LEASE_WAIT_S
) -> tuple[FastAPI, str | None, Callable[[], None]]:
    """The console for `syncd ui`: full when a connector is configured, read-only otherwise.

    The store and the mappings must be usable (their errors are raised as they are); a
    connector that is missing or incomplete only turns Approve off, with its reason shown.

    Returns:
        The app, `ui.token`, and a function that releases what the console opened.

    Raises:
        ConfigError: Unmigrated or unreachable database, or invalid mappings.
    """
    rules = load_mappings(settings.mappings)
    db = open_store(settings.database_url, stall_timeout=settings.safety.lease_ttl)
    try:
        rt = open_runtime(settings, rules=rules)
    except ConfigError as exc:
        reason = f"{exc} (Approve needs a connector; see `syncd check`)"
    else:
        db.dispose()
        app, token = console_for(rt, bind_host, lease_wait_s=lease_wait_s)
        return app, token, rt.close
    app, token = _app(db, settings, rules, bind_host, approve=None, read_only=reason)
    return app, token, db.dispose


def _app(
    db: Engine,
    settings: Settings,
    rules: RuleSet,
    bind_host: str | None,
    *,
    approve: Approve | None,
    reject: Reject | None = None,
    read_only: str | None = None,
) -> tuple[FastAPI, str | None]:
    """The console app as `ui` configures it (token, hosts, session, links); and the token."""
    ui = settings.ui
    token = ui.token.get_secret_value() if ui.token else None
    app = create_app(
        db,
        settings.workspace,
        rules,
        token=token,
        approve=approve,
        reject=reject,
        read_only=read_only,
        allowed_hosts=ui.allowed_hosts,
        bind_hosts=[ui.host, bind_host or ui.host],
        session_ttl=ui.session_ttl,
        links=links_for(settings),
    )
    return app, token
