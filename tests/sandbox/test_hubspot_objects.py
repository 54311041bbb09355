"""HubSpot contacts, batch calls, properties and associations, through the official SDK."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot.crm.contacts import ApiException
from sandbox_clients import hubspot

from syncd.sandbox import Sandbox


def _auth(sb: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.hubspot_token}"}


def test_paging_through_every_contact(sb: Sandbox) -> None:
    api = hubspot(sb).crm.contacts.basic_api
    seen: list[str] = []
    after = None
    while True:
        page = api.get_page(limit=100, after=after, properties=["email", "lifecyclestage"])
        seen.extend(c.id for c in page.results)
        assert all("lifecyclestage" in c.properties for c in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == 300


def test_page_limit_above_100_is_refused(sb: Sandbox) -> None:
    with pytest.raises(ApiException) as err:
        hubspot(sb).crm.contacts.basic_api.get_page(limit=101)
    assert err.value.status == 400
    assert json.loads(err.value.body)["category"] == "VALIDATION_ERROR"


def test_inline_associations_and_get_by_id(sb: Sandbox) -> None:
    api = hubspot(sb).crm.contacts.basic_api
    cid = next(i for i in sb.hubspot.contact_ids if i in sb.hubspot.contact_deals)
    c = api.get_by_id(str(cid), properties=["plan"], associations=["deals", "companies"])
    deal_ids = {r.id for r in c.associations["deals"].results}
    assert deal_ids == {str(d) for d in sb.hubspot.contact_deals[cid]}
    with pytest.raises(ApiException) as err:
        api.get_by_id("999999999")
    assert err.value.status == 404


def test_batch_read_max_and_partial(sb: Sandbox) -> None:
    batch = hubspot(sb).crm.contacts.batch_api
    ok = batch.read({"inputs": [{"id": str(i)} for i in range(1, 101)], "properties": ["email"]})
    assert len(ok.results) == 100
    partial = batch.read({"inputs": [{"id": "1"}, {"id": "99999"}], "properties": []})
    assert partial.num_errors == 1
    assert partial.errors[0].context["ids"] == ["99999"]
    with pytest.raises(ApiException) as err:
        batch.read({"inputs": [{"id": str(i)} for i in range(1, 102)], "properties": []})
    assert err.value.status == 400
    assert "100" in json.loads(err.value.body)["message"]


def test_batch_update_207_partial_failure_and_limit(fresh: Sandbox) -> None:
    batch = hubspot(fresh).crm.contacts.batch_api
    res = batch.update(
        {
            "inputs": [
                {"id": "5", "properties": {"plan": "enterprise"}},
                {"id": "424242", "properties": {"plan": "starter"}},
            ]
        }
    )
    assert res.num_errors == 1
    assert res.errors[0].category == "OBJECT_NOT_FOUND"
    assert res.errors[0].context["ids"] == ["424242"]
    assert fresh.hubspot.contacts[5].props["plan"] == "enterprise"
    with pytest.raises(ApiException) as err:
        batch.update({"inputs": [{"id": str(i), "properties": {}} for i in range(1, 102)]})
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        batch.update({"inputs": [{"id": "5", "properties": {"no_such_prop": "x"}}]})
    assert "PROPERTY_DOESNT_EXIST" in json.loads(err.value.body)["message"]


def test_batch_upsert_creates_and_updates(fresh: Sandbox) -> None:
    batch = hubspot(fresh).crm.contacts.batch_api
    existing = fresh.hubspot.contacts[7].props["email"].strip()
    res = batch.upsert(
        {
            "inputs": [
                {
                    "id": "new.person@example.com",
                    "idProperty": "email",
                    "properties": {"plan": "free"},
                },
                {"id": existing.upper(), "idProperty": "email", "properties": {"plan": "starter"}},
                {"id": "not-an-email", "idProperty": "email", "properties": {}},
            ]
        }
    )
    news = sorted(r.new for r in res.results)
    assert news == [False, True]
    assert res.num_errors == 1
    assert fresh.hubspot.contact_by_email("new.person@example.com") is not None
    assert fresh.hubspot.contacts[7].props["plan"] == "starter"


def test_patch_bumps_lastmodifieddate(fresh: Sandbox) -> None:
    api = hubspot(fresh).crm.contacts.basic_api
    before = fresh.hubspot.contacts[3].props["lastmodifieddate"]
    out = api.update("3", {"properties": {"jobtitle": "Chief Sandbox Officer"}})
    assert out.properties["jobtitle"] == "Chief Sandbox Officer"
    assert out.properties["lastmodifieddate"] > before
    with pytest.raises(ApiException) as err:
        api.update("3", {"properties": {"lastmodifieddate": "2020-01-01"}})
    assert err.value.status == 400


def test_properties_list_and_create(fresh: Sandbox) -> None:
    props = hubspot(fresh).crm.properties.core_api
    names = {p.name for p in props.get_all("contacts").results}
    assert {"trial_started_at", "plan", "renewal_date", "hs_email_open"} <= names
    created = props.create(
        "contacts",
        {
            "name": "syncd_segment",
            "label": "Segment",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    assert created.name == "syncd_segment"
    with pytest.raises(Exception) as err:  # noqa: PT011 - each SDK package has its own class
        props.create(
            "contacts",
            {
                "name": "syncd_segment",
                "label": "x",
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation",
            },
        )
    assert err.value.status == 409  # type: ignore[attr-defined]


def test_associations_v4_batch_read_and_limit(sb: Sandbox) -> None:
    client = hubspot(sb)
    with_deals = [i for i in sb.hubspot.contact_ids if i in sb.hubspot.contact_deals][:5]
    res = client.crm.associations.v4.batch_api.get_page(
        "contacts", "deals", {"inputs": [{"id": str(i)} for i in with_deals]}
    )
    got = {r._from.id: {int(t.to_object_id) for t in r.to} for r in res.results}
    assert got == {str(i): set(sb.hubspot.contact_deals[i]) for i in with_deals}
    r = requests.post(
        f"{sb.hubspot_url}/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(1001)]},
        headers=_auth(sb),
        timeout=10,
    )
    assert r.status_code == 400
    deal_ids = [str(d) for i in with_deals for d in sb.hubspot.contact_deals[i]]
    deals = client.crm.deals.batch_api.read(
        {"inputs": [{"id": d} for d in deal_ids], "properties": ["amount", "dealstage"]}
    )
    assert {d.id for d in deals.results} == set(deal_ids)


def test_unknown_path_malformed_json_and_bad_token(sb: Sandbox) -> None:
    r = requests.get(f"{sb.hubspot_url}/crm/v3/nothing/here", headers=_auth(sb), timeout=10)
    assert r.status_code == 404
    assert set(r.json()) >= {"status", "message", "correlationId", "category"}
    r = requests.post(
        f"{sb.hubspot_url}/crm/v3/objects/contacts/batch/read",
        data=b"{oops",
        headers={**_auth(sb), "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400
    assert r.json()["category"] == "VALIDATION_ERROR"
    r = requests.get(
        f"{sb.hubspot_url}/crm/v3/objects/contacts",
        headers={"Authorization": "Bearer wrong"},
        timeout=10,
    )
    assert r.status_code == 401
    assert r.json()["category"] == "INVALID_AUTHENTICATION"
    assert "Traceback" not in r.text


def test_daily_usage_endpoint(sb: Sandbox) -> None:
    r = requests.get(
        f"{sb.hubspot_url}/account-info/v3/api-usage/daily/private-apps",
        headers=_auth(sb),
        timeout=10,
    )
    row = r.json()["results"][0]
    assert row["usageLimit"] == sb.limits.daily.limit
    assert row["currentUsage"] >= 1
