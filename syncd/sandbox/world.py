"""One seed, both vendors' data.

The HubSpot portal first, then a Mailchimp audience drawn from the same people.

Same `(contacts, seed, now)` gives the same data. Both generators draw from one random stream
in a fixed order (portal, then audience), so neither can be regenerated alone without changing
the other's data.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass

from syncd.sandbox.core.clock import Clock
from syncd.sandbox.core.random_data import name_pools
from syncd.sandbox.hubspot.data import company_count, generate_portal
from syncd.sandbox.hubspot.state import HubSpotState
from syncd.sandbox.mailchimp.data import Person, generate_audience
from syncd.sandbox.mailchimp.state import MailchimpState

MAX_COMPANY_NAMES = 800  # faker company names; later companies reuse them with a suffix


@dataclass
class World:
    """Freshly generated data for both vendors."""

    hubspot: HubSpotState
    mailchimp: MailchimpState


def generate(contacts: int, seed: int, clock: Clock) -> World:
    """Build both vendors' data for `contacts` HubSpot contacts.

    Mailchimp gets about 80% of the contacts that have an address, plus 10% more people.
    The cyclic garbage collector is paused while it runs: generation allocates hundreds of
    thousands of small dicts and nothing cyclic, and the pauses would double its time.

    Args:
        contacts: Number of HubSpot contacts.
        seed: Seed for every random choice and for the faker name pools.
        clock: The sandbox clock; generated dates are relative to its start.

    Returns:
        The portal and the audience.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        rng = random.Random(seed)
        pools = name_pools(seed, min(company_count(contacts), MAX_COMPANY_NAMES))
        portal = generate_portal(contacts, rng, pools, clock)
        audience = generate_audience(
            _people(portal), rng, pools, max(1, contacts // 10), seed, clock
        )
        return World(portal, audience)
    finally:
        if enabled:
            gc.enable()


def _people(portal: HubSpotState) -> list[Person]:
    """The portal's contacts that have an address, in id order, as audience candidates."""
    people = []
    for cid in portal.contact_ids:
        c = portal.contacts[cid]
        email = c.props.get("email")
        if not email:
            continue
        opens = int(c.props.get("hs_email_open", "0"))
        delivered = int(c.props.get("hs_email_delivered", "0")) or 1
        people.append(
            Person(
                email.strip(),
                c.props["firstname"],
                c.props["lastname"],
                c.props["country"],
                min(1.0, opens / delivered),
                c.created_ms,
            )
        )
    return people
