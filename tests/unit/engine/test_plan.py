"""The planner: adds, removes, consent, ownership, drift and properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from syncd.engine import plan as plan_module
from syncd.engine.guards import empty_pull_guard, removal_guard
from syncd.engine.plan import (
    Action,
    Change,
    ContactView,
    LedgerEntry,
    Plan,
    Planner,
    SegmentTargets,
    decode_properties,
    make_plan,
    segments_value,
)
from syncd.store.models import MembershipState
from syncd.targets import TargetKind, TargetRef

VIP = [SegmentTargets("vip", hubspot_list=True, mailchimp_tag=True)]
LIST, TAG = "hubspot_list:vip", "mailchimp_tag:vip"


def contact(
    cid: int = 1,
    segments: frozenset[str] = frozenset({"vip"}),
    status: str | None = "subscribed",
    hubspot: bool = True,
    mailchimp: bool = True,
    stage: str | None = "lead",
) -> ContactView:
    return ContactView(
        contact_id=cid,
        hubspot_id=str(100 + cid) if hubspot else None,
        mailchimp_id=f"hash{cid}" if mailchimp else None,
        mailchimp_status=status if mailchimp else None,
        segments=segments,
        journey_stage=stage,
    )


def memberships(plan_changes: list[Change]) -> list[tuple[str, int, str]]:
    return sorted(
        (c.target, c.contact_id, str(c.action))
        for c in plan_changes
        if not c.target.startswith("hubspot_property")
    )


def test_new_member_is_added_to_list_and_tag_with_reason() -> None:
    plan = make_plan([contact()], VIP, {})
    assert memberships(plan.changes) == [(LIST, 1, "add"), (TAG, 1, "add")]
    assert {c.reason for c in plan.changes if c.target == LIST} == {"rule segments/vip matched"}


def test_owned_member_is_not_re_added() -> None:
    ledger = {LIST: {1: LedgerEntry(MembershipState.ADDED)}, TAG: {1: LedgerEntry("added")}}
    plan = make_plan([contact()], VIP, ledger, write_properties=False)
    assert plan.changes == []


def test_only_owned_memberships_are_removed() -> None:
    ledger = {LIST: {1: LedgerEntry(MembershipState.ADDED)}}
    plan = make_plan([contact(1, frozenset()), contact(2, frozenset())], VIP, ledger)
    # Contact 2 left the segment but syncd never added it: it is left alone.
    assert memberships(plan.changes) == [(LIST, 1, "remove")]
    assert plan.owned[LIST] == 1


def test_consent_gate_blocks_adds_but_allows_removing_owned_tags() -> None:
    for status in ("unsubscribed", "cleaned", "archived", None):
        plan = make_plan([contact(status=status)], VIP, {}, write_properties=False)
        assert memberships(plan.changes) == [(LIST, 1, "add")]
        assert plan.skipped_consent[TAG] == 1
    ledger = {TAG: {1: LedgerEntry(MembershipState.ADDED)}}
    plan = make_plan([contact(segments=frozenset(), status="unsubscribed")], VIP, ledger)
    assert (TAG, 1, "remove") in memberships(plan.changes)


def test_contacts_missing_from_a_system_are_not_planned_there() -> None:
    plan = make_plan([contact(mailchimp=False), contact(2, hubspot=False)], VIP, {})
    assert memberships(plan.changes) == [(LIST, 1, "add"), (TAG, 2, "add")]
    assert all(c.contact_id == 1 for c in plan.changes if c.target.startswith("hubspot_prop"))


def test_drift_removed_is_not_fought_until_reentry() -> None:
    ledger = {LIST: {1: LedgerEntry(MembershipState.DRIFT_REMOVED)}}
    still_in = make_plan([contact()], VIP, ledger, write_properties=False)
    assert (LIST, 1, "add") not in memberships(still_in.changes)
    left = make_plan([contact(segments=frozenset())], VIP, ledger, write_properties=False)
    assert left.changes == []
    assert left.releases == [(LIST, 1)]
    # After release the ledger says REMOVED, and re-entry adds again.
    reentered = make_plan(
        [contact()], VIP, {LIST: {1: LedgerEntry(MembershipState.REMOVED)}}, write_properties=False
    )
    assert (LIST, 1, "add") in memberships(reentered.changes)


def test_unconfigured_targets_are_emptied() -> None:
    ledger = {"hubspot_list:old": {1: LedgerEntry(MembershipState.ADDED)}}
    plan = make_plan([contact(segments=frozenset({"old"}))], [], ledger, write_properties=False)
    assert memberships(plan.changes) == [("hubspot_list:old", 1, "remove")]


def test_properties_are_set_only_when_changed() -> None:
    plan = make_plan([contact(segments=frozenset({"b", "a"}), stage="trial")], [], {})
    [change] = plan.changes
    assert change.target == "hubspot_property:syncd"
    assert decode_properties(change.value) == {
        "syncd_segments": "a;b",
        "syncd_journey_stage": "trial",
    }
    assert change.reason == "syncd_journey_stage is now trial; syncd_segments is now a;b"
    ledger = {"hubspot_property:syncd": {1: LedgerEntry("set", change.value)}}
    again = make_plan([contact(segments=frozenset({"a", "b"}), stage="trial")], [], ledger)
    assert again.changes == []
    moved = make_plan([contact(segments=frozenset({"a", "b"}), stage="customer")], [], ledger)
    assert [c.reason for c in moved.changes] == ["syncd_journey_stage is now customer"]
    # An empty value never written before needs no call.
    nothing = make_plan([contact(segments=frozenset(), stage=None)], [], {})
    assert nothing.changes == []


def test_segments_value_is_sorted() -> None:
    assert segments_value({"z", "a", "m"}) == "a;m;z"


def test_removal_guard_percentage_and_absolute() -> None:
    ledger = {LIST: {i: LedgerEntry(MembershipState.ADDED) for i in range(100)}}
    few_leave = [contact(i, frozenset() if i < 15 else frozenset({"vip"})) for i in range(100)]
    plan = make_plan(few_leave, [VIP[0]], ledger, write_properties=False)
    assert removal_guard(plan, max_pct=20, max_abs=1000) == {}
    reasons = removal_guard(plan, max_pct=10, max_abs=1000)
    assert reasons == {
        LIST: "hubspot_list:vip: 15 of 100 members (15%) would be removed, "
        "over safety.max_removals_pct=10"
    }
    assert removal_guard(plan, max_pct=50, max_abs=14) == {
        LIST: "hubspot_list:vip: 15 removals exceed safety.max_removals=14"
    }


def test_removal_guard_ignores_small_churn() -> None:
    ledger = {LIST: {i: LedgerEntry(MembershipState.ADDED) for i in range(5)}}
    plan = make_plan([contact(i, frozenset()) for i in range(5)], VIP, ledger)
    assert removal_guard(plan, max_pct=20, max_abs=1000) == {}


def test_empty_pull_guard_only_for_full_pulls() -> None:
    assert empty_pull_guard({"hubspot": 0}, {"hubspot": 10}, full=False) == []
    assert empty_pull_guard({"hubspot": 5}, {"hubspot": 10}, full=True) == []
    assert empty_pull_guard({"hubspot": 0, "mailchimp": 3}, {"hubspot": 10}, full=True) == [
        "hubspot: the full pull returned 0 contacts; the previous full pull returned 10"
    ]
    assert empty_pull_guard({"hubspot": 0}, None, full=True) == []
    # A connector whose pull failed is left out: its stored data is used, not an empty pull.
    assert empty_pull_guard({"hubspot": 5}, {"hubspot": 10, "mailchimp": 3}, full=True) == []


def test_min_dwell_defers_removal_and_readding_but_not_consent() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    dwell = [SegmentTargets("vip", True, True, timedelta(hours=2))]
    recent, old = now - timedelta(hours=1), now - timedelta(hours=3)
    ledger = {
        LIST: {
            1: LedgerEntry(MembershipState.ADDED, since=recent),
            2: LedgerEntry(MembershipState.ADDED, since=old),
            3: LedgerEntry(MembershipState.REMOVED, since=recent),
        },
        TAG: {4: LedgerEntry(MembershipState.ADDED, since=recent)},
    }
    people = [
        contact(1, frozenset()),  # left 1 h after joining: stays until the dwell passes
        contact(2, frozenset()),  # joined 3 h ago: removed now
        contact(3, frozenset({"vip"}), mailchimp=False),  # removed 1 h ago: not re-added yet
        contact(4, frozenset(), status="unsubscribed"),  # consent wins: tag removed now
    ]
    plan = make_plan(people, dwell, ledger, write_properties=False, now=now)
    changes = {(c.target, c.contact_id, c.action) for c in plan.changes}
    assert changes == {(LIST, 2, Action.REMOVE), (TAG, 4, Action.REMOVE)}
    assert plan.deferred == {LIST: 2}
    assert plan.counts()[LIST]["deferred_dwell"] == 2
    # Without a clock nothing is deferred.
    plain = make_plan(people, dwell, ledger, write_properties=False)
    assert {(c.contact_id, c.action) for c in plain.changes if c.target == LIST} == {
        (1, Action.REMOVE), (2, Action.REMOVE), (3, Action.ADD)
    }  # fmt: skip


def _plan_contact_by_contact(
    people: list[ContactView], targets: list[SegmentTargets], ledger: dict, now: datetime
) -> Plan:
    """The planner's rules applied to every contact and target in turn: the reference."""
    changes: list[Change] = []
    plan = Plan(changes=changes)
    refs = [ref for st in targets for ref in st.refs()]
    configured = {ref.key for ref in refs}
    dwell = {ref.key: st.min_dwell for st in targets for ref in st.refs() if st.min_dwell}
    refs += [TargetRef.parse(k) for k in ledger if k not in configured]
    for ref in refs:
        plan.owned[ref.key] = sum(e.state == "added" for e in ledger.get(ref.key, {}).values())
    for contact in people:
        for ref in refs:
            has = (
                contact.mailchimp_id if ref.kind is TargetKind.MAILCHIMP_TAG else contact.hubspot_id
            )
            if has is None:
                continue
            entry = ledger.get(ref.key, {}).get(contact.contact_id)
            wanted = ref.key in configured and ref.name in contact.segments
            if ref.key in dwell and plan_module._dwelling(
                ref, contact, entry, wanted, now - dwell[ref.key]
            ):
                plan.deferred[ref.key] += 1
                continue
            verb = "matched" if wanted else "no longer matches"
            plan_module._plan_membership(
                plan,
                changes,
                ref,
                contact,
                entry,
                f"rule segments/{ref.name} {verb}",
                wanted=wanted,
            )
        if contact.hubspot_id is not None:
            plan_module._plan_properties(changes, contact, ledger)
    return plan


def _same(a: Plan, b: Plan) -> None:
    assert sorted(a.changes, key=repr) == sorted(b.changes, key=repr)
    assert sorted(a.releases) == sorted(b.releases)
    assert (a.deferred, a.skipped_consent, +a.owned) == (b.deferred, b.skipped_consent, +b.owned)


def test_planning_in_chunks_equals_planning_at_once() -> None:
    # The sync plans a chunk of contacts at a time with only that chunk's ledger rows, and
    # per target only the contacts set arithmetic says may change; every change, release,
    # deferral, consent skip and owned count must be what the rules give contact by contact.
    rng = random.Random(17)
    keys = ["a", "b", "c", "gone"]
    targets = [
        SegmentTargets("a", hubspot_list=True, mailchimp_tag=True),
        SegmentTargets("b", hubspot_list=True, mailchimp_tag=False, min_dwell=timedelta(hours=2)),
        SegmentTargets("c", hubspot_list=False, mailchimp_tag=True),
    ]
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    states = [MembershipState.ADDED, MembershipState.REMOVED, MembershipState.DRIFT_REMOVED]
    people, ledger = [], {}
    for cid in range(1, 400):
        people.append(
            contact(
                cid,
                frozenset(k for k in keys if rng.random() < 0.4),
                status=rng.choice(["subscribed", "unsubscribed", "pending", None]),
                hubspot=rng.random() < 0.8,
                mailchimp=rng.random() < 0.8,
                stage=rng.choice(["lead", "customer", None]),
            )
        )
        for target in [LIST.replace("vip", k) for k in keys] + [
            TAG.replace("vip", k) for k in keys
        ]:
            if rng.random() < 0.3:
                since = now - timedelta(minutes=rng.choice([10, 600]))
                ledger.setdefault(target, {})[cid] = LedgerEntry(rng.choice(states), None, since)
    reference = _plan_contact_by_contact(people, targets, ledger, now)
    whole = make_plan(people, targets, ledger, now=now)
    summary_targets = list(ledger)
    owned = {t: sum(e.state == "added" for e in rows.values()) for t, rows in ledger.items()}
    planner = Planner(targets, summary_targets, owned, now=now)
    for start in range(0, len(people), 37):
        chunk = people[start : start + 37]
        ids = {c.contact_id for c in chunk}
        planner.add(
            chunk, {t: {c: e for c, e in rows.items() if c in ids} for t, rows in ledger.items()}
        )
    assert whole.changes and whole.releases and whole.deferred and whole.skipped_consent
    _same(whole, reference)
    _same(planner.plan, reference)
