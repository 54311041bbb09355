"""Mailchimp members, tags, segments, batch subscribe and compliance, through the official SDK."""

from __future__ import annotations

import json

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError
from sandbox_clients import mailchimp

from syncd.sandbox import Sandbox, subscriber_hash


def _subscribed(sb: Sandbox, status: str = "subscribed") -> tuple[str, str]:
    h, m = next((h, m) for h, m in sb.mailchimp.members.items() if m.status == status)
    return h, m.email


def test_lists_and_paging_through_members(sb: Sandbox) -> None:
    mc = mailchimp(sb)
    lists = mc.lists.get_all_lists()["lists"]
    assert [lst["id"] for lst in lists] == [sb.audience_id]
    seen: list[str] = []
    offset = 0
    while True:
        page = mc.lists.get_list_members_info(sb.audience_id, count=100, offset=offset)
        seen.extend(m["id"] for m in page["members"])
        offset += 100
        if offset >= page["total_items"]:
            break
    assert len(seen) == len(set(seen)) == len(sb.mailchimp.members)
    statuses = {m.status for m in sb.mailchimp.members.values()}
    assert {"subscribed", "unsubscribed", "cleaned", "archived"} <= statuses


def test_member_filters_fields_and_count_limit(sb: Sandbox) -> None:
    mc = mailchimp(sb)
    page = mc.lists.get_list_members_info(
        sb.audience_id,
        status="unsubscribed",
        count=1000,
        sort_field="last_changed",
        sort_dir="DESC",
        fields=["members.email_address", "members.last_changed", "total_items"],
    )
    assert set(page) == {"members", "total_items"}
    assert set(page["members"][0]) == {"email_address", "last_changed"}
    changed = [m["last_changed"] for m in page["members"]]
    assert changed == sorted(changed, reverse=True)
    r = requests.get(
        f"{sb.mailchimp_url}/lists/{sb.audience_id}/members?count=1001",
        auth=("x", sb.mailchimp_key),
        timeout=10,
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_patch_bumps_last_changed_and_since_filter(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, _ = _subscribed(fresh)
    newest = mc.lists.get_list_members_info(
        fresh.audience_id, count=1, sort_field="last_changed", sort_dir="DESC"
    )["members"][0]
    assert newest["id"] != h  # also fills the sandbox's query cache, which the write must drop
    out = mc.lists.update_list_member(fresh.audience_id, h, {"merge_fields": {"FNAME": "Zed"}})
    assert out["last_changed"] >= newest["last_changed"]
    again = mc.lists.get_list_members_info(
        fresh.audience_id, count=1, sort_field="last_changed", sort_dir="DESC"
    )["members"][0]
    assert again["id"] == h
    page = mc.lists.get_list_members_info(fresh.audience_id, since_last_changed=out["last_changed"])
    assert h in [m["id"] for m in page["members"]]


def test_compliance_refusal(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, _ = _subscribed(fresh, "unsubscribed")
    with pytest.raises(ApiClientError) as err:
        mc.lists.update_list_member(fresh.audience_id, h, {"status": "subscribed"})
    body = json.loads(err.value.text)
    assert err.value.status_code == 400
    assert body["title"] == "Member In Compliance State"
    assert fresh.mailchimp.members[h].status == "unsubscribed"


def test_put_upsert_and_delete_archives(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    email = "New.Member@Example.com"
    h = subscriber_hash(email)
    created = mc.lists.set_list_member(
        fresh.audience_id, h, {"email_address": email, "status_if_new": "pending"}
    )
    assert created["status"] == "pending" and created["id"] == h
    hs, _ = _subscribed(fresh)
    mc.lists.delete_list_member(fresh.audience_id, hs)
    assert fresh.mailchimp.members[hs].status == "archived"
    with pytest.raises(ApiClientError) as err:
        mc.lists.delete_list_member(fresh.audience_id, hs)
    assert err.value.status_code == 405


def test_member_tags_and_segments(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, email = _subscribed(fresh)
    mc.lists.update_list_member_tags(
        fresh.audience_id, h, {"tags": [{"name": "syncd:vip", "status": "active"}]}
    )
    tags = mc.lists.get_list_member_tags(fresh.audience_id, h)["tags"]
    assert "syncd:vip" in [t["name"] for t in tags]
    segs = mc.lists.list_segments(fresh.audience_id, type="static", count=1000)["segments"]
    seg = next(s for s in segs if s["name"] == "syncd:vip")
    assert seg["member_count"] == 1
    others = [m.email for m in fresh.mailchimp.members.values()][:5]
    res = mc.lists.batch_segment_members(
        {"members_to_add": others, "members_to_remove": [email]}, fresh.audience_id, seg["id"]
    )
    assert res["total_removed"] == 1
    assert res["total_added"] == len([e for e in others if e != email])
    too_many = [f"p{i}@example.com" for i in range(501)]
    with pytest.raises(ApiClientError) as err:
        mc.lists.batch_segment_members({"members_to_add": too_many}, fresh.audience_id, seg["id"])
    assert "at most 500" in json.loads(err.value.text)["detail"]
    new = mc.lists.create_segment(fresh.audience_id, {"name": "syncd:new", "static_segment": []})
    assert new["type"] == "static" and new["member_count"] == 0


def test_batch_subscribe_errors_with_200(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    _, unsub = _subscribed(fresh, "unsubscribed")
    _, sub = _subscribed(fresh)
    res = mc.lists.batch_list_members(
        fresh.audience_id,
        {
            "members": [
                {"email_address": "fresh.face@example.com", "status": "subscribed"},
                {"email_address": unsub, "status": "subscribed"},
                {"email_address": sub, "merge_fields": {"LNAME": "Changed"}},
                {"email_address": "not-an-email", "status": "subscribed"},
            ],
            "update_existing": True,
        },
    )
    assert res["total_created"] == 1 and res["total_updated"] == 1
    assert res["error_count"] == 2
    with pytest.raises(ApiClientError) as err:
        mc.lists.batch_list_members(
            fresh.audience_id,
            {
                "members": [
                    {"email_address": f"x{i}@example.com", "status": "pending"} for i in range(501)
                ]
            },
        )
    assert err.value.status_code == 400


def test_activity_ping_and_errors(sb: Sandbox) -> None:
    mc = mailchimp(sb)
    assert mc.ping.get()["health_status"] == "Everything's Chimpy!"
    h, _ = _subscribed(sb)
    act = mc.lists.get_list_member_activity(sb.audience_id, h)
    assert act["email_id"] == h and act["activity"]
    r = requests.get(f"{sb.mailchimp_url}/nope", auth=("x", sb.mailchimp_key), timeout=10)
    assert r.status_code == 404 and r.json()["title"] == "Resource Not Found"
    r = requests.patch(
        f"{sb.mailchimp_url}/lists/{sb.audience_id}/members/{h}",
        data=b"{bad",
        auth=("x", sb.mailchimp_key),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["title"] == "JSON Parse Error"
    r = requests.get(f"{sb.mailchimp_url}/ping", auth=("x", "wrong-us1"), timeout=10)
    assert r.status_code == 401 and r.json()["title"] == "API Key Invalid"
    assert r.headers["Content-Type"].startswith("application/problem+json")
