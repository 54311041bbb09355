"""`hubspot.write_properties: false`: lists and tags only, no contact property writes."""

from __future__ import annotations

from sqlalchemy import select

from syncd.http import RetrySettings
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from syncd.store import RunStatus
from syncd.store.models import Membership
from syncd.store.types import table_of
from tests.e2e.helpers import ledger_members, make_settings, remote_lists


def test_without_properties_lists_are_written_and_no_contact_is(
    sandbox: Sandbox, db_url: str
) -> None:
    settings = make_settings(sandbox, db_url)
    settings = settings.model_copy(
        update={"hubspot": settings.hubspot.model_copy(update={"write_properties": False})}
    )
    rt = open_runtime(settings, retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0))
    try:
        result = rt.syncer.sync(trigger="manual", full=True)
        assert result.status is RunStatus.SUCCESS, result.error
        lists = remote_lists(sandbox)
        written = [s.key for s in rt.rules.segments if s.targets.hubspot_list]
        assert sum(len(lists[f"syncd: {key}"]) for key in written) > 0
        for key in written:
            assert lists[f"syncd: {key}"] == ledger_members(rt, f"hubspot_list:{key}")
        with sandbox.state_lock():
            touched = [
                c.id
                for c in sandbox.hubspot.contacts.values()
                if c.props.get("syncd_journey_stage") or c.props.get("syncd_segments")
            ]
        assert touched == []
        endpoints = sandbox.stats()["hubspot"]["endpoints"]
        assert not [e for e in endpoints if "contacts/batch/update" in e], endpoints
        m = table_of(Membership).c
        with rt.db.begin() as conn:
            targets = set(conn.execute(select(m.target).distinct()).scalars())
        assert targets and not [t for t in targets if t.startswith("hubspot_property:")]
        assert rt.syncer.plan_only().plan.changes == []
    finally:
        rt.close()
