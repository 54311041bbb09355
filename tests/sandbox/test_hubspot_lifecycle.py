"""HubSpot contacts created, deleted, archived, GDPR-deleted and merged; deals and companies
edited; associations paged. Through the official SDK where it has the call, else plain HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException
from sandbox_clients import hubspot
from sandbox_clients import hubspot_request as _call

from syncd.sandbox import Limits, Sandbox


def _listed(sb: Sandbox, archived: bool) -> set[str]:
    api = hubspot(sb).crm.contacts.basic_api
    seen: set[str] = set()
    after = None
    while True:
        page = api.get_page(limit=100, after=after, archived=archived)
        seen.update(c.id for c in page.results)
        assert all(c.archived is archived for c in page.results)
        if page.paging is None:
            return seen
        after = page.paging.next.after


def test_create_refuses_an_address_in_use_whatever_its_case(fresh: Sandbox) -> None:
    api = hubspot(fresh).crm.contacts.basic_api
    made = api.create({"properties": {"email": "new.one@example.com", "firstname": "New"}})
    assert made.properties["email"] == "new.one@example.com"
    assert made.id == str(fresh.hubspot.contact_by_email("new.one@example.com").id)  # type: ignore[union-attr]
    taken = fresh.hubspot.contacts[5].props["email"].strip()
    with pytest.raises(ApiException) as err:
        api.create({"properties": {"email": taken.upper()}})
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["category"] == "CONFLICT"
    assert body["message"] == "Contact already exists. Existing ID: 5"
    r = _call(fresh, "POST", "/crm/v3/objects/contacts", {"associations": []})
    assert r.status_code == 400  # properties is required


def test_patch_to_an_address_in_use_is_a_409_and_changes_nothing(fresh: Sandbox) -> None:
    taken = fresh.hubspot.contacts[5].props["email"].strip()
    before = dict(fresh.hubspot.contacts[6].props)
    r = _call(fresh, "PATCH", "/crm/v3/objects/contacts/6", {"properties": {"email": taken}})
    assert r.status_code == 409
    assert fresh.hubspot.contacts[6].props == before


def test_seed_never_holds_two_contacts_with_one_address() -> None:
    with Sandbox(contacts=250, seed=3, limits=Limits.relaxed()) as sb:
        emails = [
            c.props["email"].strip().lower()
            for c in sb.hubspot.contacts.values()
            if "email" in c.props
        ]
        assert len(emails) == len(set(emails))
        # What the seed holds, the emulator's own endpoints accept: patch each to itself.
        for cid in list(sb.hubspot.contact_ids):
            email = sb.hubspot.contacts[cid].props.get("email")
            if email:
                body = {"properties": {"email": email}}
                assert _call(sb, "PATCH", f"/crm/v3/objects/contacts/{cid}", body).ok


def test_deleted_contact_leaves_reads_and_lists_and_is_listed_as_archived(fresh: Sandbox) -> None:
    api = hubspot(fresh).crm.contacts.basic_api
    list_id = _call(
        fresh, "POST", "/crm/v3/lists",
        {"name": "held", "objectTypeId": "0-1", "processingType": "MANUAL"},
    ).json()["list"]["listId"]  # fmt: skip
    _call(fresh, "PUT", f"/crm/v3/lists/{list_id}/memberships/add", ["8", "9"])
    email = fresh.hubspot.contacts[8].props["email"]
    api.archive("8")
    with pytest.raises(ApiException) as err:
        api.get_by_id("8")
    assert err.value.status == 404
    archived = api.get_by_id("8", archived=True)
    assert archived.archived is True and archived.archived_at is not None
    assert "8" not in _listed(fresh, archived=False)
    assert _listed(fresh, archived=True) == {"8"}
    members = _call(fresh, "GET", f"/crm/v3/lists/{list_id}/memberships").json()["results"]
    assert [m["recordId"] for m in members] == ["9"]
    batch = hubspot(fresh).crm.contacts.batch_api.read({"inputs": [{"id": "8"}], "properties": []})
    assert batch.num_errors == 1 and batch.errors[0].context["ids"] == ["8"]
    # The address is free again, and deleting twice is fine.
    assert api.create({"properties": {"email": email}}).id != "8"
    assert _call(fresh, "DELETE", "/crm/v3/objects/contacts/8").status_code == 204


def test_batch_archive(fresh: Sandbox) -> None:
    hubspot(fresh).crm.contacts.batch_api.archive({"inputs": [{"id": "10"}, {"id": "11"}]})
    assert {10, 11} <= set(fresh.hubspot.archived_contacts)
    assert 10 not in fresh.hubspot.contacts
    r = _call(fresh, "POST", "/crm/v3/objects/contacts/batch/archive", {"inputs": [{"id": 12}]})
    assert r.status_code == 400  # ids are strings in the spec
    r = _call(
        fresh,
        "POST",
        "/crm/v3/objects/contacts/batch/archive",
        {"inputs": [{"id": str(i)} for i in range(1, 102)]},
    )
    assert r.status_code == 400


def test_gdpr_delete_removes_for_good_and_blocks_the_address(fresh: Sandbox) -> None:
    api = hubspot(fresh).crm.contacts.basic_api
    email = fresh.hubspot.contacts[13].props["email"].strip()
    api.purge({"objectId": "13"})
    for archived in (False, True):
        with pytest.raises(ApiException) as err:
            api.get_by_id("13", archived=archived)
        assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        api.create({"properties": {"email": email}})
    assert err.value.status == 400
    # By an address nobody has: 204, and the address is blocked from now on.
    api.purge({"objectId": "Ghost@Example.com", "idProperty": "email"})
    with pytest.raises(ApiException):
        api.create({"properties": {"email": "ghost@example.com"}})
    with pytest.raises(ApiException) as err:
        api.purge({"objectId": "999999"})
    assert err.value.status == 404


def test_merge_makes_a_new_record_both_old_ids_answer_with(fresh: Sandbox) -> None:
    api = hubspot(fresh).crm.contacts.basic_api
    hs = fresh.hubspot
    primary, other = hs.contacts[20], hs.contacts[21]
    p_email, o_email = primary.props["email"].strip(), other.props["email"].strip()
    hs.contact_deals[21] = [d for d in list(hs.deals)[:2]]
    list_id = _call(
        fresh, "POST", "/crm/v3/lists",
        {"name": "merging", "objectTypeId": "0-1", "processingType": "MANUAL"},
    ).json()["list"]["listId"]  # fmt: skip
    _call(fresh, "PUT", f"/crm/v3/lists/{list_id}/memberships/add", ["21"])
    merged = api.merge({"primaryObjectId": "20", "objectIdToMerge": "21"})
    assert merged.id not in ("20", "21")
    props = ["email", "hs_merged_object_ids", "hs_additional_emails", "firstname"]
    for old in ("20", "21"):
        again = api.get_by_id(old, properties=props)
        assert again.id == merged.id
        assert again.properties["email"] == p_email
        assert again.properties["hs_merged_object_ids"] == "20;21"
        assert again.properties["hs_additional_emails"] == o_email.lower()
        assert again.properties["firstname"] == primary.props["firstname"]
    assert not {"20", "21"} & _listed(fresh, archived=False)
    assert merged.id in _listed(fresh, archived=False)
    members = _call(fresh, "GET", f"/crm/v3/lists/{list_id}/memberships").json()["results"]
    assert [m["recordId"] for m in members] == [merged.id]
    deals = hubspot(fresh).crm.associations.v4.batch_api.get_page(
        "contacts", "deals", {"inputs": [{"id": merged.id}]}
    )
    assert {t.to_object_id for t in deals.results[0].to} >= {str(d) for d in list(hs.deals)[:2]}
    # Both addresses now belong to the merged record.
    with pytest.raises(ApiException) as err:
        api.create({"properties": {"email": o_email}})
    assert json.loads(err.value.body)["message"].endswith(merged.id)
    r = _call(
        fresh, "POST", "/crm/v3/objects/contacts/merge",
        {"primaryObjectId": merged.id, "objectIdToMerge": "20"},
    )  # fmt: skip
    assert r.status_code == 400  # the same record
    r = _call(
        fresh, "POST", "/crm/v3/objects/contacts/merge",
        {"primaryObjectId": 22, "objectIdToMerge": "23"},
    )  # fmt: skip
    assert r.status_code == 400  # ids are strings in the spec


def test_deal_and_company_patch_bumps_hs_lastmodifieddate_and_is_searchable(fresh: Sandbox) -> None:
    client = hubspot(fresh)
    deal_id = next(i for i, d in fresh.hubspot.deals.items() if d.props["dealstage"] != "closedwon")
    before = fresh.hubspot.deals[deal_id].props["hs_lastmodifieddate"]
    out = client.crm.deals.basic_api.update(
        str(deal_id), {"properties": {"dealstage": "closedwon", "amount": "1234"}}
    )
    assert out.properties["hs_lastmodifieddate"] > before
    assert fresh.hubspot.deals[deal_id].props["hs_is_closed_won"] == "true"
    since = fresh.hubspot.deals[deal_id].updated_ms
    found = client.crm.deals.search_api.do_search(
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(since),
                        }
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["amount"],
            "limit": 10,
        }
    )
    assert [d.id for d in found.results] == [str(deal_id)]
    company_id = next(iter(fresh.hubspot.companies))
    out = client.crm.companies.basic_api.update(
        str(company_id), {"properties": {"industry": "RETAIL"}}
    )
    assert out.properties["industry"] == "RETAIL"
    assert (
        fresh.hubspot.companies[company_id].props["hs_lastmodifieddate"]
        == out.properties["hs_lastmodifieddate"]
    )
    for body in ({"properties": {"hs_lastmodifieddate": "1"}}, {"properties": {"nope": "x"}}, {}):
        r = _call(fresh, "PATCH", f"/crm/v3/objects/deals/{deal_id}", body)
        assert r.status_code == 400


def test_create_with_associations_and_paged_association_reads(fresh: Sandbox) -> None:
    fresh.set_limits(Limits.relaxed(hubspot_assoc_page=3))
    deals = sorted(fresh.hubspot.deals)[:7]
    body = {
        "properties": {"email": "many.deals@example.com"},
        "associations": [
            {
                "to": {"id": str(d)},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4}],
            }
            for d in deals
        ],
    }
    made = _call(fresh, "POST", "/crm/v3/objects/contacts", body)
    assert made.status_code == 201
    cid = made.json()["id"]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        inp: dict[str, Any] = {"id": cid} if after is None else {"id": cid, "after": after}
        r = _call(
            fresh, "POST", "/crm/v4/associations/contacts/deals/batch/read", {"inputs": [inp]}
        )
        result = r.json()["results"][0]
        pages += 1
        assert len(result["to"]) <= 3
        assert all(isinstance(t["toObjectId"], str) for t in result["to"])
        assert all(
            "label" not in a or isinstance(a["label"], str)
            for t in result["to"]
            for a in t["associationTypes"]
        )
        seen.extend(t["toObjectId"] for t in result["to"])
        nxt = result.get("paging", {}).get("next")
        if nxt is None:
            break
        after = nxt["after"]
    assert seen == [str(d) for d in deals]
    assert pages == 3
    # The official SDK reads the per-result paging too.
    res = hubspot(fresh).crm.associations.v4.batch_api.get_page(
        "contacts", "deals", {"inputs": [{"id": cid}]}
    )
    assert res.results[0].paging.next.after == str(deals[2])
    r = _call(
        fresh,
        "POST",
        "/crm/v4/associations/contacts/deals/batch/read",
        {"inputs": [{"id": int(cid)}]},
    )
    assert r.status_code == 400


def test_deal_and_company_to_contact_associations(sb: Sandbox) -> None:
    hs = sb.hubspot
    cid = next(i for i in hs.contact_ids if i in hs.contact_deals and i in hs.contact_companies)
    deal, company = hs.contact_deals[cid][0], hs.contact_companies[cid][0]
    batch = hubspot(sb).crm.associations.v4.batch_api
    res = batch.get_page("deals", "contacts", {"inputs": [{"id": str(deal)}]})
    assert [t.to_object_id for t in res.results[0].to] == [str(cid)]
    assert res.results[0].to[0].association_types[0].type_id == 3
    res = batch.get_page("companies", "contacts", {"inputs": [{"id": str(company)}]})
    expected = sorted(c for c, comps in hs.contact_companies.items() if company in comps)
    got = [int(t.to_object_id) for t in res.results[0].to]
    assert got == expected[: len(got)] and str(cid) in {t.to_object_id for t in res.results[0].to}


def test_a_gdpr_blocked_address_is_refused_by_every_write(fresh: Sandbox) -> None:
    email = fresh.hubspot.contacts[30].props["email"].strip()
    hubspot(fresh).crm.contacts.basic_api.purge({"objectId": "30"})
    r = _call(fresh, "PATCH", "/crm/v3/objects/contacts/31", {"properties": {"email": email}})
    assert r.status_code == 400
    r = _call(
        fresh,
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        {"inputs": [{"id": "31", "properties": {"email": email.upper()}}]},
    )
    assert r.status_code == 207 and r.json()["errors"][0]["context"]["ids"] == ["31"]
    r = _call(
        fresh,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        {"inputs": [{"id": email, "idProperty": "email", "properties": {}}]},
    )
    assert r.status_code == 207 and r.json()["results"] == []
    assert fresh.hubspot.contact_by_email(email) is None


@pytest.mark.parametrize(
    "path",
    [
        "/crm/v3/objects/contacts/batch/read",
        "/crm/v3/objects/contacts/batch/update",
        "/crm/v3/objects/deals/batch/read",
        "/crm/v4/associations/contacts/deals/batch/read",
    ],
)
def test_batch_inputs_with_number_ids_are_refused(sb: Sandbox, path: str) -> None:
    assert _call(sb, "POST", path, {"inputs": [{"id": 1}], "properties": []}).status_code == 400
    assert _call(sb, "POST", path, {"inputs": [{"id": "1"}], "properties": []}).status_code < 300
