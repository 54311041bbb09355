"""Mailchimp refusals are never taken as done, a removal neither (real SDK, sandbox)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import FieldMap, Member, Target
from connectors.mailchimp import MailchimpConnector
from connectors.mailchimp.connector import subscriber_hash
from syncd.failures import Reason
from syncd.http import RetrySettings
from syncd.sandbox import Limits, Sandbox
from syncd.targets import TargetKind


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=60, seed=3, limits=Limits.relaxed()) as sandbox:
        yield sandbox


def connector(sb: Sandbox) -> MailchimpConnector:
    return MailchimpConnector(
        api_key=sb.mailchimp_key,
        base_url=sb.mailchimp_url,
        audience_id=sb.audience_id,
        field_map=FieldMap(),
        retry=RetrySettings.immediate(),
    )


def test_a_removal_mailchimp_refuses_stays_pending_with_its_reason(sb: Sandbox) -> None:
    mc = connector(sb)
    tag = mc.ensure_target(Target(TargetKind.MAILCHIMP_TAG, "refusals", "syncd:refusals"))
    member = next(h for h, m in sb.mailchimp.members.items() if m.status == "subscribed")
    own = Member(member, sb.mailchimp.members[member].email)
    assert mc.apply(tag, [own], []).by_id()[member, "add"].outcome == "applied"
    # Addressed at another address (say HubSpot's, changed since): Mailchimp refuses it.
    elsewhere = Member(member, "somebody-else@example.org")
    refused = mc.apply(tag, [], [elsewhere]).by_id()[member, "remove"]
    assert (refused.outcome, refused.reason) == ("rejected", Reason.NOT_IN_AUDIENCE)
    assert "@" not in (refused.message or "")
    assert member in set(mc.read_members(tag))  # the tag is still there, as the outcome says
    done = mc.apply(tag, [], [own]).by_id()[member, "remove"]
    assert done.outcome == "applied"
    assert member not in set(mc.read_members(tag))


def test_records_carry_the_members_address_independent_key(sb: Sandbox) -> None:
    mc = connector(sb)
    records = [r for page in mc.pull(None, full=True) for r in page.records]
    assert records and all(r.key for r in records)
    assert all(r.source_id == subscriber_hash(r.email or "") for r in records)
