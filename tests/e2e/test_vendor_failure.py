"""One vendor failing mid-apply: the other vendor's changes are applied and counted truthfully."""

from __future__ import annotations

from sqlalchemy import func, select

from syncd.sandbox import Sandbox
from syncd.store import AuditEvent, RunStatus
from syncd.store.history import get_run
from syncd.store.types import table_of
from tests.e2e.helpers import RuntimeFactory


def test_a_401_on_one_vendor_keeps_the_other_vendors_figures(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()

    def revoke_hubspot_once_applying(phase: str, _: int) -> None:
        if not phase.startswith("pull:"):
            sandbox.hubspot_token = "revoked-mid-run"  # a person rotated the token

    result = rt.syncer.sync(trigger="manual", full=True, progress=revoke_hubspot_once_applying)
    assert result.status is RunStatus.PARTIAL
    assert result.exit_code == 2  # a person must act on the HubSpot token
    assert result.error is not None and result.error.startswith("hubspot:")
    assert "401" in result.error
    a = table_of(AuditEvent).c
    with rt.db.connect() as conn:
        applied = dict(
            conn.execute(
                select(a.target, func.count())
                .where(a.run_id == result.run_id, a.outcome == "applied", a.action == "add")
                .group_by(a.target)
            ).all()
        )
    tags = {t: n for t, n in applied.items() if t.startswith("mailchimp_tag:")}
    assert sum(tags.values()) > 0
    # The run row says exactly what the audit log says was applied, vendor by vendor.
    run = get_run(rt.db, "default", result.run_id or 0)
    assert run is not None and run["status"] == "partial"
    for target, n in applied.items():
        assert run["counts"][target]["added"] == n
    assert run["totals"]["added"] == sum(applied.values())
