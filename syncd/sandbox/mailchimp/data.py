"""Seeded demo data for the Mailchimp account: one audience, its members and hand-made tags.

Members are drawn from the people of the HubSpot portal (about 80% of those with an address)
plus about 10% more people only Mailchimp knows; a person's email engagement in HubSpot drives
their open and click rates here, so engagement segments line up across both systems. The caller
(`syncd.sandbox.world`) hands over the people, so this package needs nothing of HubSpot's.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple

from syncd.sandbox.core.clock import Clock
from syncd.sandbox.core.random_data import (
    COUNTRIES,
    CW_COUNTRY,
    DAY,
    FREE_MAIL,
    NamePools,
    ch,
    cumulative,
    pick,
    ri,
    slug,
)
from syncd.sandbox.mailchimp.state import MailchimpState, McMember, McSegment, subscriber_hash

HAND_TAGS = ("VIP", "Webinar 2025", "Newsletter", "Customer Advisory Board")
MC_STATUSES = ("subscribed", "unsubscribed", "cleaned", "archived", "pending")
CW_STATUS = cumulative((82, 9, 4, 3, 2))
SHARE_FROM_CRM = 0.8  # of the CRM's people with an address


class Person(NamedTuple):
    """Someone who may be on the audience, as the CRM knows them."""

    email: str
    first: str
    last: str
    country: str  # ISO code
    engagement: float  # 0..1, opens per delivered email
    created_ms: int


def hex_id(rng: random.Random, n: int) -> str:
    """`n` random hex digits (audience and member ids)."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def generate_audience(
    people: Iterable[Person],
    rng: random.Random,
    pools: NamePools,
    extra: int,
    seed: int,
    clock: Clock,
) -> MailchimpState:
    """Build the audience from some of `people` plus `extra` Mailchimp-only members.

    Args:
        people: The CRM's people with an address, in the CRM's id order.
        rng: The seeded random stream, as the CRM's generator left it.
        pools: Names for the Mailchimp-only members.
        extra: How many Mailchimp-only members to make.
        seed: The data seed (kept for per-member activity).
        clock: The sandbox clock; generated dates are relative to its start.

    Returns:
        The populated account state.
    """
    state = MailchimpState(seed=seed, clock=clock)
    now = clock.base_ms
    state.audience_id = hex_id(rng, 10)
    state.audience_created_ms = now - 1500 * DAY
    for name in HAND_TAGS:
        sid = state.next_segment_id
        state.next_segment_id += 1
        created = now - ri(rng, 60, 700) * DAY
        state.segments[sid] = McSegment(sid, name, "static", created, created)
    tag_ids = list(state.segments)
    statuses = MC_STATUSES
    rows = [p for p in people if rng.random() < SHARE_FROM_CRM]
    for i in range(extra):
        first, last = ch(rng, pools.first), ch(rng, pools.last)
        email = f"{slug(first)}{slug(last)}.mc{i}@{ch(rng, FREE_MAIL)}"
        country = pick(rng, COUNTRIES, CW_COUNTRY)[0]
        created = now - ri(rng, 1, 1000) * DAY
        rows.append(Person(email, first, last, country, rng.betavariate(2, 5), created))
    by_code = {c[0]: c for c in COUNTRIES}
    for email, first, last, code, eng, created in rows:
        h = subscriber_hash(email)
        if h in state.members:
            continue  # the duplicate address lands once
        status = pick(rng, statuses, CW_STATUS)
        open_rate = round(min(1.0, max(0.0, eng * rng.uniform(0.7, 1.3))), 4)
        click_rate = round(open_rate * rng.uniform(0.05, 0.4), 4)
        signup = created + ri(rng, 0, 30) * DAY
        cinfo = by_code[code]
        m = McMember(
            email=email,
            status=status,
            merge_fields={"FNAME": first, "LNAME": last, "ADDRESS": "", "PHONE": ""},
            avg_open_rate=open_rate,
            avg_click_rate=click_rate,
            member_rating=1 + min(4, int(eng * 6)) if status == "subscribed" else 1,
            country_code=code,
            timezone=cinfo[4],
            region=cinfo[5],
            language=cinfo[3],
            signup_ms=min(signup, now),
            opt_ms=min(signup + ri(rng, 0, 3600_000), now),
            last_changed_ms=min(now, signup + int((now - signup) * rng.random())),
            unique_email_id=hex_id(rng, 10),
            contact_id=hex_id(rng, 32),
            web_id=ri(rng, 100_000_000, 999_999_999),
            vip=rng.random() < 0.02,
        )
        if status == "archived":
            m.prior_status = ch(rng, ("subscribed", "unsubscribed"))
        for sid, share in zip(tag_ids, (0.03, 0.08, 0.15, 0.01), strict=True):
            if rng.random() < share:
                m.tags[sid] = m.signup_ms + DAY
        state.members[h] = m
    return state
