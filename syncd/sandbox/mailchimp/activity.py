"""A member's recent email activity (`GET .../members/{hash}/activity`).

It is derived from the member's open and click rates with a per-member seed, so it is stable
across calls.
"""

from __future__ import annotations

import random

from syncd.sandbox.core.clock import iso_s
from syncd.sandbox.core.routing import Request, Response
from syncd.sandbox.mailchimp.shapes import get_member, respond
from syncd.sandbox.mailchimp.state import MailchimpState


def member_activity(state: MailchimpState, req: Request) -> Response:
    """`GET .../members/{hash}/activity`.

    Up to 50 recent events, derived from the member's stats with a per-member seed (stable across
    calls).
    """
    h, m = get_member(state, req)
    rng = random.Random(f"{state.seed}:{h}")
    now = state.clock.base_ms
    events = []
    for i in range(int(20 * m.avg_open_rate) + 1):
        ts = now - (i * 7 + rng.randint(0, 6)) * 86_400_000
        cid = f"{rng.getrandbits(40):010x}"
        events.append(
            {
                "action": "sent",
                "timestamp": iso_s(ts),
                "campaign_id": cid,
                "title": "Monthly Newsletter",
            }
        )
        if rng.random() < m.avg_open_rate * 1.5:
            events.append(
                {
                    "action": "open",
                    "timestamp": iso_s(ts + 3_600_000),
                    "campaign_id": cid,
                    "title": "Monthly Newsletter",
                }
            )
            if rng.random() < m.avg_click_rate * 3:
                events.append(
                    {
                        "action": "click",
                        "timestamp": iso_s(ts + 3_700_000),
                        "campaign_id": cid,
                        "title": "Monthly Newsletter",
                        "url": "https://example.com/pricing",
                    }
                )
    events.sort(key=lambda e: e["timestamp"], reverse=True)
    return respond(
        req,
        {
            "activity": events[:50],
            "email_id": h,
            "list_id": state.audience_id,
            "total_items": len(events[:50]),
            "_links": [],
        },
    )
