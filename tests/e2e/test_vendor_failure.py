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


def test_mailchimp_down_for_a_whole_run_hubspot_is_still_written_and_nothing_removed(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    from syncd.sandbox import FaultConfig

    rt = make_runtime(max_removals_pct=100)  # the catch-up removals are not a guard's business
    assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
    with sandbox.state_lock():
        contacts = list(sandbox.hubspot.contacts.values())
        # Some people change stage: they enter some lists and leave others.
        for contact in contacts[: len(contacts) // 3]:
            contact.props["lifecyclestage"] = "customer"
        for contact in contacts[len(contacts) // 3 : len(contacts) // 2]:
            contact.props.pop("lifecyclestage", None)
    before = sandbox.stats()["hubspot"]["writes"]
    sandbox.set_faults(FaultConfig(mailchimp={"503": 1.0}, seed=3))
    result = rt.syncer.sync(trigger="reconcile", full=True)
    sandbox.set_faults(None)
    assert result.status is RunStatus.PARTIAL, result.error
    assert result.counts.stale_sources == ["mailchimp"]
    assert result.error is not None and "mailchimp: pull failed" in result.error
    assert sandbox.stats()["hubspot"]["writes"] > before
    assert result.counts.deferred and all(
        row["pull_failed"] > 0 for row in result.counts.deferred.values()
    )
    a = table_of(AuditEvent).c
    with rt.db.connect() as conn:
        removed = conn.execute(
            select(func.count()).where(
                a.run_id == result.run_id, a.action == "remove", a.outcome == "applied"
            )
        ).scalar_one()
        added = conn.execute(
            select(func.count()).where(
                a.run_id == result.run_id,
                a.action == "add",
                a.outcome == "applied",
                a.target.like("hubspot_list:%"),
            )
        ).scalar_one()
    assert removed == 0 and added > 0
    # Mailchimp is back: the next run catches up, removals included.
    after = rt.syncer.sync(trigger="reconcile", full=True)
    assert after.status is RunStatus.SUCCESS, after.error
    assert not after.counts.stale_sources
    assert after.counts.totals()["removed"] > 0
