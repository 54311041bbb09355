"""Part of the connector contract: every answer the emulator gives the connectors has the fields
and types the connectors read (and the vendors' specs promise), also after contacts and members
are deleted, archived, merged or change their address.

The connectors run a realistic life against one sandbox while it records every answer; each
answer is then checked against the shape of its endpoint. An endpoint the connectors called
that has no shape here fails the test, so a new call cannot go unchecked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.base import Member, PropertyUpdate, Target, TargetKind
from connectors.hubspot import HubSpotConnector
from connectors.mailchimp import MailchimpConnector, subscriber_hash
from syncd.http import RetrySettings
from syncd.sandbox import Limits, Sandbox
from syncd.sandbox.app import Served
from tests.support.connector_fields import FIELDS
from tests.support.shapes import OneOf, mismatches

# -- HubSpot shapes (CRM v3 objects, v4 associations, Lists v3, Properties v3) ----------------

HS_ERROR = {"status": str, "message": str, "correlationId": str, "category": str}
STANDARD_ERROR = {
    "status": str,
    "category": str,
    "message": str,
    "context": {"*": [str]},
    "errors": list,
    "links": dict,
    "?subCategory": dict,
}
NEXT = {"next": {"after": str, "?link": str}}
OBJECT = {
    "id": str,
    "properties": {"*": str},
    "createdAt": str,
    "updatedAt": str,
    "archived": bool,
    "?archivedAt": str,
}
BATCH = {
    "status": OneOf.of("CANCELED", "COMPLETE", "PENDING", "PROCESSING"),
    "results": [OBJECT],
    "startedAt": str,
    "completedAt": str,
    "?numErrors": int,
    "?errors": [STANDARD_ERROR],
}
ASSOCIATIONS = {
    **BATCH,
    "results": [
        {
            "from": {"id": str},
            "to": [
                {
                    "toObjectId": str,
                    "associationTypes": [
                        {
                            "category": OneOf.of(
                                "HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"
                            ),
                            "typeId": int,
                            "?label": str,
                        }
                    ],
                }
            ],
            "?paging": NEXT,
        }
    ],
}
LIST = {"listId": str, "name": str, "processingType": str, "objectTypeId": str}
PROPERTY = {"name": str, "type": str, "options": [{"value": str, "label": str}]}
HUBSPOT: dict[str, Any] = {
    "GET /crm/v3/objects/{objectType}": {"results": [OBJECT], "?paging": NEXT},
    "POST /crm/v3/objects/{objectType}/search": {
        "total": int,
        "results": [OBJECT],
        "?paging": NEXT,
    },
    "POST /crm/v3/objects/{objectType}/batch/read": BATCH,
    "POST /crm/v3/objects/{objectType}/batch/update": BATCH,
    "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read": ASSOCIATIONS,
    "GET /crm/v3/lists/{listId}": {"list": LIST},
    "POST /crm/v3/lists": {"list": LIST},
    "GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}": {"list": LIST},
    "PUT /crm/v3/lists/{listId}/memberships/add-and-remove": {
        "recordsIdsAdded": [str],
        "recordIdsRemoved": [str],
        "recordIdsMissing": [str],
    },
    "GET /crm/v3/lists/{listId}/memberships": {
        "results": [{"recordId": str, "membershipTimestamp": str}],
        "?paging": NEXT,
    },
    "GET /crm/v3/properties/{objectType}/{propertyName}": PROPERTY,
    "POST /crm/v3/properties/{objectType}": PROPERTY,
    "PATCH /crm/v3/properties/{objectType}/{propertyName}": PROPERTY,
}

# -- Mailchimp shapes (Marketing API 3.0; members are projected with `fields`) --------------

MC_ERROR = {"type": str, "title": str, "status": int, "detail": str, "instance": str}
ALL_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
MEMBER = {
    "?id": str,
    "?email_address": str,
    "?status": OneOf.of(*ALL_STATUSES, "archived"),
    "?last_changed": str,
    "?tags": [{"id": int, "name": str}],
    "?merge_fields": dict,
    "?stats": {"?avg_open_rate": (int, float), "?avg_click_rate": (int, float)},
    "?location": {"?country_code": str},
    "?member_rating": int,
}
SEGMENT_MEMBER = {**MEMBER, "?status": OneOf.of(*ALL_STATUSES)}  # the spec's enum: no archived
SEGMENT = {"id": int, "name": str, "type": OneOf.of("saved", "static", "fuzzy")}
MAILCHIMP: dict[str, Any] = {
    "GET /3.0/ping": {"health_status": str},
    "GET /3.0/lists/{list_id}": {"?id": str},
    "GET /3.0/lists/{list_id}/members": {"members": [MEMBER], "total_items": int},
    "GET /3.0/lists/{list_id}/segments": {"segments": [SEGMENT], "total_items": int},
    "POST /3.0/lists/{list_id}/segments": SEGMENT,
    "GET /3.0/lists/{list_id}/segments/{segment_id}": SEGMENT,
    "GET /3.0/lists/{list_id}/segments/{segment_id}/members": {
        "members": [SEGMENT_MEMBER],
        "total_items": int,
    },
    "POST /3.0/lists/{list_id}/segments/{segment_id}": {
        "members_added": [SEGMENT_MEMBER],
        "members_removed": [SEGMENT_MEMBER],
        "errors": [{"email_addresses": [str], "error": str}],
        "total_added": int,
        "total_removed": int,
        "error_count": int,
    },
}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    limits = Limits.relaxed(hubspot_assoc_page=2)  # the busiest contacts page their deals
    with Sandbox(contacts=400, seed=13, limits=limits) as sandbox:
        yield sandbox


def person(sb: Sandbox, method: str, url: str, body: Any = None) -> requests.Response:
    """A person's edit through the vendor API (not recorded, not counted as syncd's)."""
    if url.startswith(sb.mailchimp_url):
        token = base64.b64encode(f"person:{sb.mailchimp_key}".encode()).decode()
        auth = f"Basic {token}"
    else:
        auth = f"Bearer {sb.hubspot_token}"
    r = requests.request(
        method,
        url,
        json=body,
        headers={"Authorization": auth, "X-Sandbox-Actor": "person"},
        timeout=10,
    )
    assert r.ok, r.text
    return r


def drain(connector: Any, cursor: str | None, *, full: bool) -> str | None:
    last = None
    for page in connector.pull(cursor, full=full):
        last = page.cursor or last
    return last


def hubspot_life(sb: Sandbox) -> None:
    hs = HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        search_per_s=10_000,
        overlap_s=0,
    )
    with sb.state_lock():
        deals = sorted(sb.hubspot.deals)
        sb.hubspot.contact_deals[sb.hubspot.contact_ids[4]] = deals[:7]
        ids = [str(i) for i in sb.hubspot.contact_ids]
    hs.check()
    cursor = drain(hs, None, full=True)
    hs.ensure_properties(["vip"], ["customer"])
    hs.ensure_properties(["vip", "churn-risk"], ["customer"])  # a new option: PATCH
    hs.write_properties([PropertyUpdate(ids[0], {"syncd_segments": "vip"})])
    list_id = hs.ensure_target(Target(TargetKind.HUBSPOT_LIST, "vip", "syncd: vip"))
    hs.apply(list_id, [Member(i) for i in ids[:300]], [])
    hs.apply(list_id, [Member("987654321")], [])
    url = sb.hubspot_url + "/crm/v3/objects"
    person(sb, "DELETE", f"{url}/contacts/{ids[10]}")
    person(
        sb,
        "POST",
        f"{url}/contacts/merge",
        {"primaryObjectId": ids[11], "objectIdToMerge": ids[12]},
    )
    person(sb, "PATCH", f"{url}/deals/{deals[0]}", {"properties": {"amount": "999"}})
    person(sb, "POST", f"{url}/contacts", {"properties": {"email": "fresh.face@example.com"}})
    drain(hs, cursor, full=False)
    drain(hs, None, full=True)
    assert ids[10] not in set(hs.read_members(list_id))
    hs.apply(list_id, [], [Member(ids[10]), Member(ids[13])])
    person(sb, "DELETE", f"{sb.hubspot_url}/crm/v3/lists/{list_id}")
    known = Target(TargetKind.HUBSPOT_LIST, "vip", "syncd: vip", list_id)
    assert hs.ensure_target(known) != list_id
    hs.close()


def mailchimp_life(sb: Sandbox) -> None:
    mc = MailchimpConnector(
        api_key=sb.mailchimp_key,
        base_url=sb.mailchimp_url,
        audience_id=sb.audience_id,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        overlap_s=0,
    )
    members = [(h, m.email) for h, m in sb.mailchimp.members.items()]
    mc.check()
    cursor = drain(mc, None, full=True)
    tag = mc.ensure_target(Target(TargetKind.MAILCHIMP_TAG, "vip", "syncd:vip"))
    mc.apply(tag, [Member(h, e) for h, e in members[:200]], [])
    stranger = "nobody-here@example.com"
    mc.apply(tag, [Member(subscriber_hash(stranger), stranger)], [])
    base = f"{sb.mailchimp_url}/lists/{sb.audience_id}/members"
    live = [(h, e) for h, e in members[:200] if sb.mailchimp.members[h].status == "subscribed"]
    person(sb, "DELETE", f"{base}/{live[0][0]}")
    person(sb, "POST", f"{base}/{live[1][0]}/actions/delete-permanent")
    person(sb, "PATCH", f"{base}/{live[2][0]}", {"email_address": "moved.away@example.org"})
    drain(mc, cursor, full=False)
    drain(mc, None, full=True)
    tagged = set(mc.read_members(tag))
    assert live[0][0] not in tagged and subscriber_hash("moved.away@example.org") in tagged
    mc.apply(tag, [], [Member(h, e) for h, e in live[:3]])
    person(sb, "DELETE", f"{sb.mailchimp_url}/lists/{sb.audience_id}/segments/{tag}")
    known = Target(TargetKind.MAILCHIMP_TAG, "vip", "syncd:vip", tag)
    assert mc.ensure_target(known) != tag
    mc.close()


def problems(served: list[Served]) -> list[str]:
    out = []
    for s in served:
        shapes = HUBSPOT if s.api == "hubspot" else MAILCHIMP
        if s.status >= 400:
            shape: Any = HS_ERROR if s.api == "hubspot" else MC_ERROR
        elif s.status == 204 or s.body is None:
            continue
        elif s.endpoint not in shapes:
            out.append(f"{s.api} {s.endpoint}: no shape for an endpoint the connector calls")
            continue
        else:
            shape = shapes[s.endpoint]
        out.extend(f"{s.api} {s.endpoint} {s.status} {p}" for p in mismatches(s.body, shape))
    return out


def test_every_answer_the_connectors_read_has_the_fields_and_types_they_read(sb: Sandbox) -> None:
    with sb.recording() as served:
        hubspot_life(sb)
        mailchimp_life(sb)
    seen = {(s.api, s.endpoint) for s in served}
    assert {("hubspot", e) for e in HUBSPOT} <= seen  # the life above calls every endpoint
    assert {("mailchimp", e) for e in MAILCHIMP} <= seen
    paged = [
        r
        for s in served
        if s.endpoint.startswith("POST /crm/v4/associations")
        for r in (s.body or {}).get("results", [])
        if "paging" in r
    ]
    assert paged  # association pages were exercised
    assert any(s.status == 207 for s in served)
    assert any(s.status == 404 for s in served)
    assert problems(served) == []


def test_the_checker_finds_a_wrong_type() -> None:
    bad = Served("hubspot", "GET /crm/v3/objects/{objectType}", 200, {"results": [{"id": 7}]})
    found = problems([bad])
    assert any("$.results[0].id: expected" in p for p in found)
    assert any("properties: missing" in p for p in found)
    nulls = {"results": [{**dict.fromkeys(("createdAt", "updatedAt"), "x"), "id": "1",
                          "archived": False, "properties": {"phone": None}}]}  # fmt: skip
    assert problems([Served("hubspot", bad.endpoint, 200, nulls)]) == [
        f"hubspot {bad.endpoint} 200 $.results[0].properties.phone: expected <class 'str'>, "
        "got NoneType None"
    ]
    unknown = Served("mailchimp", "GET /3.0/campaigns", 200, {})
    assert problems([unknown]) == [
        "mailchimp GET /3.0/campaigns: no shape for an endpoint the connector calls"
    ]
