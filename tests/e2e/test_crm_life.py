"""The product survives CRM life: changed and reused addresses, deleted, archived and merged
contacts and members, owned lists and tags deleted by a person. Sandbox over loopback, real
SDKs, SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from syncd.engine.closing import CLOSED
from syncd.engine.segmentation import segment_store
from syncd.failures import Reason
from syncd.http import RetrySettings
from syncd.runtime import Runtime, open_runtime
from syncd.sandbox import Sandbox
from syncd.store import AuditEvent, Contact, RunStatus
from syncd.store.history import AuditFilter, list_events, membership_history
from syncd.store.types import table_of, utcnow
from tests.e2e.crm_people import Person
from tests.e2e.helpers import (
    RuntimeFactory,
    ledger_members,
    make_settings,
    remote_lists,
    remote_tags,
)


def converged(sb: Sandbox, rt: Runtime) -> None:
    """Remote owned lists and tags hold exactly the ledger, and the ledger what the rules want."""
    assert rt.syncer.plan_only().plan.changes == []
    lists, tags = remote_lists(sb), remote_tags(sb)
    # Mailchimp leaves archived members out of a tag's members (the spec's status enum).
    archived = {h for h, m in sb.mailchimp.members.items() if m.status == "archived"}
    tags = {name: members - archived for name, members in tags.items()}
    for seg in rt.rules.segments:
        if seg.targets.hubspot_list and f"syncd: {seg.key}" in lists:
            assert lists[f"syncd: {seg.key}"] == ledger_members(rt, f"hubspot_list:{seg.key}")
        if seg.targets.mailchimp_tag and f"syncd:{seg.key}" in tags:
            assert tags[f"syncd:{seg.key}"] == ledger_members(rt, f"mailchimp_tag:{seg.key}")


def contact(rt: Runtime, **where: Any) -> Any:
    c = table_of(Contact).c
    with rt.db.connect() as conn:
        return conn.execute(
            select(table_of(Contact)).where(*(c[k] == v for k, v in where.items()))
        ).first()


def events(rt: Runtime, **where: Any) -> list[Any]:
    a = table_of(AuditEvent).c
    with rt.db.connect() as conn:
        return list(
            conn.execute(select(table_of(AuditEvent)).where(*(a[k] == v for k, v in where.items())))
        )


def tagged_member(sb: Sandbox, rt: Runtime) -> tuple[str, int]:
    """A subscribed member carrying an owned tag whose profile also has a HubSpot record."""
    for name, members in sorted(remote_tags(sb).items()):
        if not name.startswith("syncd:"):
            continue
        for h in sorted(members):
            row = contact(rt, mailchimp_id=h)
            if (
                row is not None
                and row.hubspot_id
                and sb.mailchimp.members[h].status == "subscribed"
            ):
                return h, int(row.hubspot_id)
    raise AssertionError("the demo data must tag some HubSpot contacts in Mailchimp")


def synced_person(sb: Sandbox, make_runtime: RuntimeFactory) -> tuple[Runtime, Person]:
    """The start of most tests here: a runtime after a full sync that succeeded, and a person
    to edit the CRM by hand."""
    rt = make_runtime()
    assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
    return rt, Person(sb)


def subscribed_tagged(sb: Sandbox) -> list[str]:
    """Subscribed members carrying an owned tag, sorted (a stable pick of who to change)."""
    return sorted(
        h
        for n, m in remote_tags(sb).items()
        if n.startswith("syncd:")
        for h in m
        if sb.mailchimp.members[h].status == "subscribed"
    )


def delete_owned_list_and_tag(
    sb: Sandbox, person: Person, lists: dict[str, set[str]], tags: dict[str, set[str]]
) -> tuple[str, str]:
    """A person deletes the first non-empty owned list and owned tag (of the remote `lists`
    and `tags` as read before); their names."""
    list_name = next(n for n, m in sorted(lists.items()) if m)
    tag_name = next(n for n, m in sorted(tags.items()) if m and n.startswith("syncd:"))
    with sb.state_lock():
        list_id = next(x.list_id for x in sb.hubspot.lists.values() if x.name == list_name)
        seg_id = next(s.id for s in sb.mailchimp.segments.values() if s.name == tag_name)
    person.delete_list(list_id)
    person.delete_tag(seg_id)
    return list_name, tag_name


def test_changed_and_reused_addresses_never_fail_and_mailchimp_is_written_at_its_own(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt, person = synced_person(sandbox, make_runtime)
    h, x = tagged_member(sandbox, rt)
    old = sandbox.hubspot.contacts[x].props["email"]
    before = membership_history(rt.db, rt.settings.workspace, old)
    assert before
    # X changes address in HubSpot; another contact takes X's old address afterwards.
    person.change_email(x, "x-moved@example.org")
    y = next(i for i in sorted(sandbox.hubspot.contacts) if i != x)
    person.change_email(y, old.upper())
    for trigger, full in (("schedule", False), ("reconcile", True)):
        result = rt.syncer.sync(trigger=trigger, full=full)
        assert result.status is RunStatus.SUCCESS, result.error
    moved = contact(rt, hubspot_id=str(x))
    assert (moved.email, moved.mailchimp_id) == ("x-moved@example.org", h)
    assert moved.mailchimp_email == old.lower()  # Mailchimp is still written at its own
    reused = contact(rt, hubspot_id=str(y))
    assert reused.id != moved.id and reused.mailchimp_id != h
    # History follows the person to the new address; the old one still finds it too.
    after = membership_history(rt.db, rt.settings.workspace, "x-moved@example.org")
    assert after[: len(before)] == before
    ws = rt.settings.workspace
    found = list_events(rt.db, ws, AuditFilter(contact="x-moved@example.org"), utcnow())
    assert {e["contact_id"] for e in found} >= {moved.id}
    # The member changes its own address: still the same person, tags follow the member.
    new_h = person.change_member_email(h, "x-mailbox@example.org")
    result = rt.syncer.sync(trigger="reconcile", full=True)
    assert result.status is RunStatus.SUCCESS, result.error
    again = contact(rt, hubspot_id=str(x))
    assert (again.id, again.mailchimp_id) == (moved.id, new_h)
    assert not events(rt, outcome="detected", contact_id=moved.id, action="drift")
    converged(sandbox, rt)


def test_a_deleted_owned_list_and_tag_are_recorded_then_recreated_with_their_members(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt, person = synced_person(sandbox, make_runtime)
    lists, tags = remote_lists(sandbox), remote_tags(sandbox)
    list_name, tag_name = delete_owned_list_and_tag(sandbox, person, lists, tags)
    result = rt.syncer.sync(trigger="reconcile", full=True)
    assert (result.status, result.exit_code) == (RunStatus.PARTIAL, 4), result.error
    assert result.reason is Reason.TARGET_DELETED
    list_key = "hubspot_list:" + list_name.removeprefix("syncd: ")
    tag_key = "mailchimp_tag:" + tag_name.removeprefix("syncd:")
    for key in (list_key, tag_key):
        [found] = events(rt, target=key, action="drift", reason_code=Reason.TARGET_DELETED)
        assert "deleted by a person" in (found.reason or "")
        assert events(rt, target=key, outcome=CLOSED)
        assert not events(rt, target=key, reason="removed by hand; not re-added until re-entry")
    # Recreated in the same run, with every member: the remote equals the rules again.
    assert remote_lists(sandbox)[list_name] == lists[list_name]
    assert remote_tags(sandbox)[tag_name] == tags[tag_name]
    converged(sandbox, rt)
    calm = rt.syncer.sync(trigger="reconcile", full=True)
    assert (calm.status, calm.reason) == (RunStatus.SUCCESS, None)


def test_on_deleted_target_stop_leaves_it_deleted(sandbox: Sandbox, db_url: str) -> None:
    settings = make_settings(sandbox, db_url).model_copy(update={"on_deleted_target": "stop"})
    rt = open_runtime(settings, retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0))
    try:
        assert rt.syncer.sync(trigger="manual", full=True).status is RunStatus.SUCCESS
        lists = remote_lists(sandbox)
        name = next(n for n, m in sorted(lists.items()) if m)
        with sandbox.state_lock():
            list_id = next(x.list_id for x in sandbox.hubspot.lists.values() if x.name == name)
        Person(sandbox).delete_list(list_id)
        result = rt.syncer.sync(trigger="reconcile", full=True)
        assert (result.status, result.reason) == (RunStatus.PARTIAL, Reason.TARGET_DELETED_KEPT)
        assert name not in remote_lists(sandbox)
        later = rt.syncer.sync(trigger="reconcile", full=True)
        assert later.status is RunStatus.SUCCESS, later.error
        assert name not in remote_lists(sandbox)
    finally:
        rt.close()
    # Switched back to `recreate`: the list is made again with its members.
    rt = open_runtime(
        make_settings(sandbox, db_url), retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0)
    )
    try:
        back = rt.syncer.sync(trigger="reconcile", full=True)
        assert back.exit_code in (0, 4), back.error
        assert remote_lists(sandbox)[name] == lists[name]
        converged(sandbox, rt)
    finally:
        rt.close()


def test_deleted_merged_archived_and_erased_people_leave_without_drift(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt, person = synced_person(sandbox, make_runtime)
    lists = remote_lists(sandbox)
    listed = sorted({int(i) for m in lists.values() for i in m})
    gone, loser, winner = listed[0], listed[1], listed[2]
    loser_row = contact(rt, hubspot_id=str(loser))
    loser_events = events(rt, contact_id=loser_row.id)
    assert loser_events
    person.delete_contact(gone)
    merged_id = person.merge_contacts(winner, loser)
    tagged = subscribed_tagged(sandbox)
    archived, erased = tagged[0], tagged[-1]
    person.archive_member(archived)
    person.delete_member_permanently(erased)
    result = rt.syncer.sync(trigger="reconcile", full=True)
    assert result.exit_code in (0, 4), result.error
    assert contact(rt, hubspot_id=str(loser)) is None
    assert contact(rt, hubspot_id=str(winner)) is None
    # Memberships ended with their contact or member, with the reason; none "by hand".
    assert not [e for e in events(rt, action="drift") if (e.reason or "").startswith("removed")]
    closed = {e.reason_code for e in events(rt, outcome=CLOSED)}
    assert {Reason.CONTACT_GONE, Reason.MEMBER_GONE, Reason.MEMBER_ARCHIVED} <= closed
    # The merged record (a new id) is one profile with both histories and both memberships.
    merged = contact(rt, hubspot_id=str(merged_id))
    history = {e.id for e in events(rt, contact_id=merged.id)}
    assert {e.id for e in loser_events} <= history
    assert events(rt, contact_id=merged.id, action="merge", reason_code=Reason.CONTACT_MERGED)
    # Nothing was written to the archived member, and nobody was re-subscribed.
    assert sandbox.mailchimp.members[archived].status == "archived"
    converged(sandbox, rt)
    again = rt.syncer.sync(trigger="reconcile", full=True)
    assert again.status is RunStatus.SUCCESS, again.error


def test_deal_and_company_edits_reach_their_contacts_in_the_next_incremental_run(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt, person = synced_person(sandbox, make_runtime)
    with sandbox.state_lock():
        hs = sandbox.hubspot
        cid, deal_id = next(
            (c, d)
            for c, deals in sorted(hs.contact_deals.items())
            for d in deals
            if c in hs.contacts and hs.deals[d].props.get("dealstage") != "closedwon"
        )
        company_contact, company_id = next(
            (c, cos[0])
            for c, cos in sorted(hs.contact_companies.items())
            if c in hs.contacts and cos
        )
    before = contact(rt, hubspot_id=str(cid)).attributes["hubspot"]
    person.edit_deal(deal_id, dealstage="closedwon", amount="987654")
    resp = person.hubspot(
        "PATCH",
        f"/crm/v3/objects/companies/{company_id}",
        json={"properties": {"industry": "Aerospace"}},
    )
    assert resp.status_code == 200, resp.text
    result = rt.syncer.sync(trigger="schedule")
    assert result.status is RunStatus.SUCCESS, result.error
    after = contact(rt, hubspot_id=str(cid)).attributes["hubspot"]
    assert float(after["deals_won"]) == float(before.get("deals_won") or 0) + 1
    assert float(after["revenue"]) >= 987654
    touched = contact(rt, hubspot_id=str(company_contact)).attributes["hubspot"]
    assert touched["industry"] == "Aerospace"
    converged(sandbox, rt)


def living_segments_hold(sb: Sandbox, rt: Runtime) -> None:
    """Owned lists hold exactly the living contacts of their segment; tags the consenting ones."""
    planned = rt.syncer.plan_only()
    assert planned.plan.changes == []
    # A sync plans each batch of views as it is made and keeps none; collect them here.
    views = segment_store(rt.db, rt.syncer.workspace, rt.rules, rt.syncer.clock()).contacts
    lists, tags = remote_lists(sb), remote_tags(sb)
    with sb.state_lock():
        status = {h: m.status for h, m in sb.mailchimp.members.items()}
        living = set(sb.hubspot.contacts)
    for seg in rt.rules.segments:
        members = [c for c in views if seg.key in c.segments]
        if seg.targets.hubspot_list:
            want = {c.hubspot_id for c in members if c.hubspot_id}
            assert {int(i) for i in want} <= living
            assert lists.get(f"syncd: {seg.key}", set()) == want, seg.key
        if seg.targets.mailchimp_tag:
            have = {h for h in tags.get(f"syncd:{seg.key}", set()) if status[h] != "archived"}
            ours = {c.mailchimp_id for c in members if c.mailchimp_id}
            consenting = {h for h in ours if status.get(h) in ("subscribed", "pending")}
            assert consenting <= have <= ours, seg.key


def test_a_life_of_crm_edits_converges_and_loses_no_history(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()
    person = Person(sandbox)
    history: dict[int, Any] = {}

    def run(full: bool) -> None:
        result = rt.syncer.sync(trigger="reconcile" if full else "schedule", full=full)
        assert result.exit_code in (0, 4), (result.status, result.error)
        now = {e.id: (e.action, e.target, e.outcome) for e in events(rt)}
        assert {k: v for k, v in now.items() if k in history} == history  # nothing lost
        history.update(now)

    run(full=True)
    listed = sorted({int(i) for m in remote_lists(sandbox).values() for i in m})
    tagged = subscribed_tagged(sandbox)
    # Day 1: contacts deleted, archived, GDPR-deleted and merged; an address changed and
    # taken by a new contact; a deal won.
    person.delete_contact(listed[0])
    person.archive_contacts(listed[1], listed[2])
    person.gdpr_delete(listed[3])
    merged = person.merge_contacts(listed[4], listed[5])
    old = sandbox.hubspot.contacts[listed[6]].props["email"]
    person.change_email(listed[6], "moved-on@example.org")
    newcomer = person.create_contact(old, lifecyclestage="customer")
    with sandbox.state_lock():
        deal = next(
            d
            for c, ds in sorted(sandbox.hubspot.contact_deals.items())
            for d in ds
            if c in sandbox.hubspot.contacts
        )
    person.edit_deal(deal, dealstage="closedwon", amount="250000")
    run(full=False)
    # Day 2: Mailchimp members archived and erased; an owned list and an owned tag deleted.
    person.archive_member(tagged[0])
    person.delete_member_permanently(tagged[-1])
    delete_owned_list_and_tag(sandbox, person, remote_lists(sandbox), remote_tags(sandbox))
    run(full=False)
    run(full=True)
    # Day 3: the archived member subscribes again themselves; another deal edit.
    person.resubscribe(tagged[0])
    person.edit_deal(deal, amount="260000")
    run(full=False)
    run(full=True)
    run(full=True)
    assert contact(rt, hubspot_id=str(merged)) is not None
    assert contact(rt, hubspot_id=str(newcomer)).email == old.lower()
    assert not [e for e in events(rt, action="drift") if (e.reason or "").startswith("removed")]
    living_segments_hold(sandbox, rt)
    final = rt.syncer.sync(trigger="reconcile", full=True)
    assert (final.status, final.exit_code) == (RunStatus.SUCCESS, 0), final.error
