"""Seeded demo data: deterministic, with the distributions and dirty rows segments need."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from syncd.sandbox.core.clock import Clock, parse_time_ms
from syncd.sandbox.mailchimp.data import HAND_TAGS
from syncd.sandbox.world import generate

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_same_seed_same_data_and_different_seed_differs() -> None:
    a, b = generate(500, 9, Clock(NOW)), generate(500, 9, Clock(NOW))
    assert [c.props for c in a.hubspot.contacts.values()] == [
        c.props for c in b.hubspot.contacts.values()
    ]
    assert [m.email for m in a.mailchimp.members.values()] == [
        m.email for m in b.mailchimp.members.values()
    ]
    c = generate(500, 10, Clock(NOW))
    assert [x.props for x in a.hubspot.contacts.values()] != [
        x.props for x in c.hubspot.contacts.values()
    ]


def test_distributions_and_overlap() -> None:
    world = generate(2000, 4, Clock(NOW))
    crm, mc = world.hubspot, world.mailchimp
    stages = Counter(c.props["lifecyclestage"] for c in crm.contacts.values())
    assert stages["customer"] > 200 and stages["lead"] > 300
    assert len({c.props["country"] for c in crm.contacts.values()}) >= 10
    now_ms = parse_time_ms(NOW.isoformat())
    assert now_ms is not None
    recent_trials = [
        c
        for c in crm.contacts.values()
        if "trial_started_at" in c.props
        and now_ms - (parse_time_ms(c.props["trial_started_at"]) or 0) < 30 * 86_400_000
    ]
    assert len(recent_trials) > 50
    assert any("renewal_date" in c.props for c in crm.contacts.values())
    assert crm.deals and crm.companies
    hs_emails = {
        c.props["email"].strip().lower() for c in crm.contacts.values() if "email" in c.props
    }
    mc_emails = {m.email.lower() for m in mc.members.values()}
    overlap = len(hs_emails & mc_emails) / len(hs_emails)
    assert 0.7 < overlap < 0.9
    assert mc_emails - hs_emails  # Mailchimp-only members
    statuses = Counter(m.status for m in mc.members.values())
    assert statuses.most_common(1)[0][0] == "subscribed"
    assert {"unsubscribed", "cleaned", "archived"} <= set(statuses)
    assert {seg.name for seg in mc.segments.values()} == set(HAND_TAGS)


def test_dirty_rows() -> None:
    crm = generate(300, 2, Clock(NOW)).hubspot
    emails = [c.props.get("email") for c in crm.contacts.values()]
    assert None in emails  # a contact without email
    present = [e for e in emails if e is not None]
    assert any(e != e.strip() for e in present)  # padded
    assert any(e.strip() != e.strip().lower() for e in present)  # mixed case
    normalised = Counter(e.strip().lower() for e in present)
    assert normalised.most_common(1)[0][1] == 1  # never one address twice (HubSpot refuses it)


def test_dates_are_relative_to_now() -> None:
    crm = generate(300, 2, Clock(NOW)).hubspot
    now_ms = int(NOW.timestamp() * 1000)
    modified = [parse_time_ms(c.props["lastmodifieddate"]) or 0 for c in crm.contacts.values()]
    assert max(modified) <= now_ms
    assert max(modified) > now_ms - 30 * 86_400_000
