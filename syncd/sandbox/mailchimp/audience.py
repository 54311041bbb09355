"""Mailchimp's account-level reads.

`GET /ping` and the sandbox's one audience (`GET /lists`, `GET /lists/{list_id}`) with member counts
by status.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.clock import iso_s
from syncd.sandbox.core.routing import Request, Response
from syncd.sandbox.mailchimp.shapes import check_list, respond
from syncd.sandbox.mailchimp.state import MailchimpState


def ping(state: MailchimpState, req: Request) -> Response:
    """`GET /ping`."""
    return Response(200, {"health_status": "Everything's Chimpy!"})


def list_json(state: MailchimpState) -> dict[str, Any]:
    """The one audience, with member counts by status."""
    counts: dict[str, int] = {}
    for m in state.members.values():
        counts[m.status] = counts.get(m.status, 0) + 1
    return {
        "id": state.audience_id,
        "web_id": 100001,
        "name": state.audience_name,
        "contact": {
            "company": "Sandbox Inc.",
            "address1": "1 Loopback Way",
            "city": "Localhost",
            "state": "CA",
            "zip": "94000",
            "country": "US",
        },
        "permission_reminder": "You signed up on our website.",
        "campaign_defaults": {
            "from_name": "Sandbox",
            "from_email": "news@example.com",
            "subject": "",
            "language": "en",
        },
        "date_created": iso_s(state.audience_created_ms),
        "list_rating": 3,
        "email_type_option": False,
        "visibility": "prv",
        "double_optin": False,
        "marketing_permissions": False,
        "stats": {
            "member_count": counts.get("subscribed", 0),
            "unsubscribe_count": counts.get("unsubscribed", 0),
            "cleaned_count": counts.get("cleaned", 0),
            "total_contacts": len(state.members),
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
        },
        "_links": [],
    }


def get_lists(state: MailchimpState, req: Request) -> Response:
    """`GET /lists`: the sandbox's single audience."""
    return respond(
        req,
        {
            "lists": [list_json(state)],
            "total_items": 1,
            "constraints": {"may_create": False, "max_instances": 1, "current_total_instances": 1},
            "_links": [],
        },
    )


def get_list(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}`."""
    check_list(state, req)
    return respond(req, list_json(state))
