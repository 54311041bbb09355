"""Mailchimp members archived, permanently deleted and changing address; tags and archived
members; deleted tags. Through the official SDK.
"""

from __future__ import annotations

import json

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError
from sandbox_clients import mailchimp

from syncd.sandbox import Sandbox, subscriber_hash


def _member(sb: Sandbox, status: str, skip: int = 0) -> tuple[str, str]:
    rows = [(h, m.email) for h, m in sb.mailchimp.members.items() if m.status == status]
    return rows[skip]


def _tag(sb: Sandbox, name: str, emails: list[str]) -> int:
    seg = mailchimp(sb).lists.create_segment(
        sb.audience_id, {"name": name, "static_segment": emails}
    )
    return int(seg["id"])


def _tagged(sb: Sandbox, seg_id: int, **flags: str) -> set[str]:
    page = mailchimp(sb).lists.get_segment_members_list(
        sb.audience_id, str(seg_id), count=1000, **flags
    )
    assert page["total_items"] == len(page["members"])
    return {m["id"] for m in page["members"]}


def test_archive_then_tag_listings_and_batches_leave_the_member_out(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, email = _member(fresh, "subscribed")
    h2, email2 = _member(fresh, "subscribed", 1)
    seg = _tag(fresh, "syncd:vip", [email, email2])
    assert _tagged(fresh, seg) == {h, h2}
    mc.lists.delete_list_member(fresh.audience_id, h)
    assert fresh.mailchimp.members[h].status == "archived"
    assert _tagged(fresh, seg) == {h2}
    assert fresh.mailchimp.members[h].tags  # the tag stays on the archived contact
    res = mc.lists.batch_segment_members(
        {"members_to_add": [], "members_to_remove": [email, email2]}, fresh.audience_id, str(seg)
    )
    assert [m["id"] for m in res["members_removed"]] == [h2]
    assert res["errors"][0]["email_addresses"] == [email]
    assert all(m["status"] != "archived" for m in res["members_removed"])
    with pytest.raises(ApiClientError) as err:
        mc.lists.delete_list_member(fresh.audience_id, h)
    assert err.value.status_code == 405
    # Coming back with a status (the person re-subscribing) makes the member listed again.
    mc.lists.update_list_member(fresh.audience_id, h, {"status": "subscribed"})
    assert h in _tagged(fresh, seg)


def test_tag_listing_filters_cleaned_unsubscribed_and_transactional(fresh: Sandbox) -> None:
    rows = {s: _member(fresh, s) for s in ("subscribed", "unsubscribed", "cleaned")}
    seg = _tag(fresh, "syncd:mixed", [e for _, e in rows.values()])
    assert _tagged(fresh, seg) == {rows["subscribed"][0]}
    flags = {"include_cleaned": "true", "include_unsubscribed": "true"}
    assert _tagged(fresh, seg, **flags) == {h for h, _ in rows.values()}
    assert _tagged(fresh, seg, include_cleaned="true") == {
        rows["subscribed"][0],
        rows["cleaned"][0],
    }


def test_delete_permanent_forgets_the_address(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, email = _member(fresh, "subscribed")
    seg = _tag(fresh, "syncd:gone", [email])
    mc.lists.delete_list_member_permanent(fresh.audience_id, h)
    assert h not in fresh.mailchimp.members
    assert _tagged(fresh, seg) == set()
    with pytest.raises(ApiClientError) as err:
        mc.lists.get_list_member(fresh.audience_id, h)
    assert err.value.status_code == 404
    body = {"email_address": email, "status_if_new": "subscribed"}
    with pytest.raises(ApiClientError) as err:
        mc.lists.set_list_member(fresh.audience_id, h, body)
    assert err.value.status_code == 400
    assert json.loads(err.value.text)["title"] == "Forgotten Email Not Subscribed"
    batch = mc.lists.batch_list_members(
        fresh.audience_id, {"members": [{**body, "status": "subscribed"}]}
    )
    assert batch["error_count"] == 1 and batch["total_created"] == 0
    # The person signing up again themselves is let back in.
    r = requests.put(
        f"{fresh.mailchimp_url}/lists/{fresh.audience_id}/members/{h}",
        json=body,
        auth=("x", fresh.mailchimp_key),
        headers={"X-Sandbox-Actor": "person"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["status"] == "subscribed"


def test_a_member_changes_its_address(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    h, email = _member(fresh, "subscribed")
    member = fresh.mailchimp.members[h]
    contact_id, tags = member.contact_id, dict(member.tags)
    new = "moved.somewhere@example.org"
    out = mc.lists.update_list_member(fresh.audience_id, h, {"email_address": new})
    new_h = subscriber_hash(new)
    assert (out["id"], out["email_address"], out["contact_id"]) == (new_h, new, contact_id)
    assert fresh.mailchimp.members[new_h].tags == tags
    with pytest.raises(ApiClientError) as err:
        mc.lists.get_list_member(fresh.audience_id, h)
    assert err.value.status_code == 404
    # The member is found by its new hash, its address and its stable contact_id.
    for key in (new_h, new, contact_id):
        assert mc.lists.get_list_member(fresh.audience_id, key)["id"] == new_h
    # Segment batches address it by its new address only.
    seg = next(iter(tags)) if tags else _tag(fresh, "syncd:moved", [new])
    res = mc.lists.batch_segment_members(
        {"members_to_add": [email], "members_to_remove": []}, fresh.audience_id, str(seg)
    )
    assert res["errors"][0]["email_addresses"] == [email]
    _, other = _member(fresh, "subscribed", 1)
    with pytest.raises(ApiClientError) as err:
        mc.lists.update_list_member(fresh.audience_id, new_h, {"email_address": other.upper()})
    assert err.value.status_code == 400
    assert json.loads(err.value.text)["title"] == "Member Exists"


def test_deleting_a_tag(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    _, email = _member(fresh, "subscribed")
    seg = _tag(fresh, "syncd:deleted", [email])
    mc.lists.delete_segment(fresh.audience_id, str(seg))
    with pytest.raises(ApiClientError) as err:
        mc.lists.get_segment(fresh.audience_id, str(seg))
    assert err.value.status_code == 404
    with pytest.raises(ApiClientError) as err:
        mc.lists.batch_segment_members(
            {"members_to_add": [email], "members_to_remove": []}, fresh.audience_id, str(seg)
        )
    assert err.value.status_code == 404
    assert all(seg not in m.tags for m in fresh.mailchimp.members.values())


def test_only_the_person_may_re_subscribe_an_archived_unsubscriber(fresh: Sandbox) -> None:
    h = next(
        h
        for h, m in fresh.mailchimp.members.items()
        if m.status == "archived" and m.prior_status == "unsubscribed"
    )
    with pytest.raises(ApiClientError) as err:
        mailchimp(fresh).lists.update_list_member(fresh.audience_id, h, {"status": "subscribed"})
    assert json.loads(err.value.text)["title"] == "Member In Compliance State"
    r = requests.patch(
        f"{fresh.mailchimp_url}/lists/{fresh.audience_id}/members/{h}",
        json={"status": "subscribed"},
        auth=("x", fresh.mailchimp_key),
        headers={"X-Sandbox-Actor": "person"},
        timeout=10,
    )
    assert r.status_code == 200 and fresh.mailchimp.members[h].status == "subscribed"


def test_seeded_members_are_all_accepted_by_the_emulators_own_endpoints(fresh: Sandbox) -> None:
    mc = mailchimp(fresh)
    for h, m in list(fresh.mailchimp.members.items()):
        if m.status == "archived":  # comes back only with a status; read it instead
            out = mc.lists.get_list_member(fresh.audience_id, h)
        else:
            out = mc.lists.update_list_member(fresh.audience_id, h, {"email_address": m.email})
        assert out["id"] == h == subscriber_hash(m.email)
    names = [s.name for s in fresh.mailchimp.segments.values()]
    assert len(names) == len({n.lower() for n in names})
