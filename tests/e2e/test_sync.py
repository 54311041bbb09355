"""The product end to end: sandbox over loopback, real SDKs, SQLite and PostgreSQL."""

from __future__ import annotations

import requests

from syncd.sandbox import FaultConfig, Sandbox
from syncd.store import RunStatus
from tests.e2e.helpers import RuntimeFactory, ledger_members, remote_lists, remote_tags


def writes(sb: Sandbox) -> int:
    stats = sb.stats()
    return int(stats["hubspot"]["writes"] + stats["mailchimp"]["writes"])


def owned_targets(rt_lists: dict[str, set[str]]) -> list[str]:
    return sorted(rt_lists)


def test_first_sync_writes_lists_tags_and_properties(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()
    result = rt.syncer.sync(trigger="manual", full=True)
    assert result.status is RunStatus.SUCCESS, result.error
    assert result.exit_code == 0
    lists = remote_lists(sandbox)
    tags = remote_tags(sandbox)
    written = [s for s in rt.rules.segments if s.targets.hubspot_list or s.targets.mailchimp_tag]
    assert written
    for seg in written:
        if seg.targets.hubspot_list:
            remote = lists[f"syncd: {seg.key}"]
            assert remote == ledger_members(rt, f"hubspot_list:{seg.key}")
        if seg.targets.mailchimp_tag:
            remote = tags[f"syncd:{seg.key}"]
            assert remote == ledger_members(rt, f"mailchimp_tag:{seg.key}")
    assert sum(len(v) for v in lists.values()) > 0
    # Properties: every HubSpot contact with a segment or stage got syncd_segments set.
    with sandbox.state_lock():
        staged = [
            c for c in sandbox.hubspot.contacts.values() if c.props.get("syncd_journey_stage")
        ]
    assert len(staged) > 100
    # Plan after a successful run is empty: the ledger matches what the rules want.
    assert rt.syncer.plan_only().plan.changes == []


def test_noop_run_makes_zero_write_calls(sandbox: Sandbox, make_runtime: RuntimeFactory) -> None:
    rt = make_runtime()
    rt.syncer.sync(trigger="manual", full=True)
    before = writes(sandbox)
    second = rt.syncer.sync(trigger="schedule")
    assert second.status is RunStatus.SUCCESS
    assert writes(sandbox) == before


def test_incremental_sync_sees_edits_made_through_the_api(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()
    rt.syncer.sync(trigger="manual", full=True)
    with sandbox.state_lock():
        target = next(
            c
            for c in sandbox.hubspot.contacts.values()
            if c.props.get("lifecyclestage") == "lead" and c.props.get("email")
        )
    # A person moves the lead to customer in HubSpot.
    resp = requests.patch(
        f"{sandbox.hubspot_url}/crm/v3/objects/contacts/{target.id}",
        json={"properties": {"lifecyclestage": "customer"}},
        headers={
            "Authorization": f"Bearer {sandbox.hubspot_token}",
            "X-Sandbox-Actor": "person",
        },
        timeout=5,
    )
    assert resp.status_code == 200
    result = rt.syncer.sync(trigger="schedule")
    assert result.status is RunStatus.SUCCESS
    assert result.counts.pulled["hubspot"] >= 1
    with sandbox.state_lock():
        stage = sandbox.hubspot.contacts[target.id].props.get("syncd_journey_stage")
    assert stage in {"customer", "advocate", "at-risk", "churned"}


def test_unsubscribed_never_tagged_nor_resubscribed(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    with sandbox.state_lock():
        statuses = {h: m.status for h, m in sandbox.mailchimp.members.items()}
    rt = make_runtime()
    rt.syncer.sync(trigger="manual", full=True)
    rt.syncer.sync(trigger="reconcile", full=True)
    with sandbox.state_lock():
        after = {h: m.status for h, m in sandbox.mailchimp.members.items()}
    assert after == statuses
    tagged = set().union(*(v for k, v in remote_tags(sandbox).items() if k.startswith("syncd:")))
    blocked = {h for h, s in statuses.items() if s in ("unsubscribed", "cleaned", "archived")}
    assert blocked, "the demo data must contain members without consent"
    assert not tagged & blocked


def test_hand_made_tags_and_list_members_untouched(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    before = {k: v for k, v in remote_tags(sandbox).items() if not k.startswith("syncd:")}
    assert before, "the demo data must contain hand-made tags"
    rt = make_runtime()
    rt.syncer.sync(trigger="manual", full=True)
    # A person adds a contact to an owned list by hand.
    lists = remote_lists(sandbox)
    name = next(n for n, members in lists.items() if members)
    with sandbox.state_lock():
        outsider = next(
            str(c.id) for c in sandbox.hubspot.contacts.values() if str(c.id) not in lists[name]
        )
        list_id = next(lst.list_id for lst in sandbox.hubspot.lists.values() if lst.name == name)
    resp = requests.put(
        f"{sandbox.hubspot_url}/crm/v3/lists/{list_id}/memberships/add",
        json=[outsider],
        headers={"Authorization": f"Bearer {sandbox.hubspot_token}"},
        timeout=5,
    )
    assert resp.status_code == 200
    reconcile = rt.syncer.sync(trigger="reconcile", full=True)
    assert reconcile.status is RunStatus.SUCCESS
    assert outsider in remote_lists(sandbox)[name]
    after = {k: v for k, v in remote_tags(sandbox).items() if not k.startswith("syncd:")}
    assert after == before
    drift = reconcile.counts.drift[f"hubspot_list:{name.removeprefix('syncd: ')}"]
    assert drift["added_by_hand"] == 1


def test_mass_removal_is_held_then_released(sandbox: Sandbox, make_runtime: RuntimeFactory) -> None:
    rt = make_runtime()
    assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
    # Everyone leaves: the newsletter audience is emptied by a bad edit in the CRM.
    with sandbox.state_lock():
        ids = [c.id for c in sandbox.hubspot.contacts.values()]
    strict = make_runtime(max_removals=5)
    with sandbox.state_lock():
        for cid in ids:
            sandbox.hubspot.contacts[cid].props.pop("lifecyclestage", None)
    before = writes(sandbox)
    held = strict.syncer.sync(trigger="reconcile", full=True)
    # The targets that would lose too many members are held; the rest is applied.
    assert held.status is RunStatus.PARTIAL
    assert held.exit_code == 4
    assert held.held_reasons and held.counts.held
    lists_before = remote_lists(sandbox)
    assert writes(sandbox) > before
    released = strict.syncer.release(held.run_id or 0, by="tester")
    assert released.status is RunStatus.SUCCESS, released.error
    assert remote_lists(sandbox) != lists_before


def test_injected_faults_converge(sandbox: Sandbox, make_runtime: RuntimeFactory) -> None:
    sandbox.set_faults(
        FaultConfig(
            hubspot={"429": 0.05, "500": 0.03, "503": 0.02, "reset": 0.01},
            mailchimp={"429": 0.05, "500": 0.03, "truncated": 0.01},
            seed=5,
        )
    )
    rt = make_runtime()
    statuses = [rt.syncer.sync(trigger="manual", full=True).status]
    for _ in range(4):
        if statuses[-1] is RunStatus.SUCCESS:
            break
        statuses.append(rt.syncer.sync(trigger="schedule").status)
    assert statuses[-1] is RunStatus.SUCCESS, statuses
    assert sandbox.stats()["faults"] > 0
    sandbox.set_faults(None)
    for name, members in remote_lists(sandbox).items():
        assert members == ledger_members(rt, f"hubspot_list:{name.removeprefix('syncd: ')}")
    assert rt.syncer.plan_only().plan.changes == []


def test_hand_removal_is_recorded_and_not_fought(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()
    rt.syncer.sync(trigger="manual", full=True)
    lists = remote_lists(sandbox)
    name = next(n for n, members in lists.items() if members)
    key = name.removeprefix("syncd: ")
    victim = sorted(lists[name])[0]
    with sandbox.state_lock():
        list_id = next(lst.list_id for lst in sandbox.hubspot.lists.values() if lst.name == name)
    resp = requests.put(
        f"{sandbox.hubspot_url}/crm/v3/lists/{list_id}/memberships/remove",
        json=[victim],
        headers={"Authorization": f"Bearer {sandbox.hubspot_token}"},
        timeout=5,
    )
    assert resp.status_code == 200
    reconcile = rt.syncer.sync(trigger="reconcile", full=True)
    assert reconcile.counts.drift[f"hubspot_list:{key}"]["removed_by_hand"] == 1
    assert victim not in ledger_members(rt, f"hubspot_list:{key}")
    # The contact is still in the segment, but syncd does not put it back.
    again = rt.syncer.sync(trigger="schedule")
    assert again.status is RunStatus.SUCCESS
    assert victim not in remote_lists(sandbox)[name]
