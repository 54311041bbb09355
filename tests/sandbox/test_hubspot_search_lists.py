"""HubSpot search (operators, sorts, the 10,000 cap) and Lists v3, through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hubspot.crm.contacts import ApiException
from sandbox_clients import hubspot
from sandbox_clients import hubspot_request as _raw

from syncd.sandbox import Sandbox
from syncd.sandbox.core.clock import parse_time_ms
from tests.support.sandboxes import start_sandbox


def _search(sb: Sandbox, **body: object) -> object:
    return hubspot(sb).crm.contacts.search_api.do_search(body)


def test_search_filters_and_sorts(sb: Sandbox) -> None:
    res = _search(
        sb,
        filterGroups=[
            {
                "filters": [
                    {
                        "propertyName": "lifecyclestage",
                        "operator": "IN",
                        "values": ["customer", "lead"],
                    },
                    {"propertyName": "hs_email_open", "operator": "GTE", "value": "1"},
                ]
            }
        ],
        sorts=[{"propertyName": "hs_email_open", "direction": "DESCENDING"}],
        properties=["lifecyclestage", "hs_email_open"],
        limit=200,
    )
    expected = [
        c
        for c in sb.hubspot.contacts.values()
        if c.props["lifecyclestage"] in ("customer", "lead")
        and int(c.props.get("hs_email_open", "0")) >= 1
    ]
    assert res.total == len(expected) > 0  # type: ignore[attr-defined]
    opens = [int(r.properties["hs_email_open"]) for r in res.results]  # type: ignore[attr-defined]
    assert opens == sorted(opens, reverse=True)


def test_search_or_groups_has_property_and_tokens(sb: Sandbox) -> None:
    res = _search(
        sb,
        filterGroups=[
            {"filters": [{"propertyName": "trial_started_at", "operator": "HAS_PROPERTY"}]},
            {
                "filters": [
                    {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@gmail.com"}
                ]
            },
        ],
        limit=1,
    )
    expected = [
        c
        for c in sb.hubspot.contacts.values()
        if "trial_started_at" in c.props
        or c.props.get("email", "").strip().lower().endswith("@gmail.com")
    ]
    assert res.total == len(expected)  # type: ignore[attr-defined]


def test_incremental_search_on_lastmodifieddate(fresh: Sandbox) -> None:
    client = hubspot(fresh)
    client.crm.contacts.basic_api.update("9", {"properties": {"plan": "professional"}})
    since = parse_time_ms(fresh.hubspot.contacts[9].props["lastmodifieddate"])
    res = client.crm.contacts.search_api.do_search(
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
                    ]
                }
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["plan"],
            "limit": 100,
        }
    )
    assert [r.id for r in res.results] == ["9"]


def test_search_limit_and_malformed_filters(sb: Sandbox) -> None:
    with pytest.raises(ApiException) as err:
        _search(sb, limit=201)
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        _search(sb, filterGroups=[{"filters": [{"propertyName": "x", "operator": "LIKE"}]}])
    assert err.value.status == 400


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """Enough contacts for a query with more than 10,000 results."""
    with start_sandbox(10_100, seed=3) as sandbox:
        yield sandbox


def test_search_cap_at_10000_results(big: Sandbox) -> None:
    api = hubspot(big).crm.contacts.search_api
    res = api.do_search({"limit": 200, "after": "9800", "properties": ["email"]})
    assert res.total == 10_100
    assert len(res.results) == 200
    assert res.paging.next.after == "10000"
    with pytest.raises(ApiException) as err:
        api.do_search({"limit": 200, "after": "10000"})
    assert err.value.status == 400
    assert "10000" in json.loads(err.value.body)["message"]


def test_lists_create_find_and_memberships(fresh: Sandbox) -> None:
    lists = hubspot(fresh).crm.lists
    created = lists.lists_api.create(
        {"name": "syncd: trial-to-paid", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    list_id = created.list.list_id
    found = lists.lists_api.get_by_name("syncd: trial-to-paid", "0-1")
    assert found.list.list_id == list_id
    hits = lists.lists_api.do_search({"query": "trial", "count": 10})
    assert [h.list_id for h in hits.lists] == [list_id]
    with pytest.raises(Exception) as err:  # noqa: PT011 - lists has its own exception class
        lists.lists_api.create(
            {"name": "syncd: trial-to-paid", "objectTypeId": "0-1", "processingType": "MANUAL"}
        )
    assert err.value.status == 400  # type: ignore[attr-defined]

    ids = (
        [str(i) for i in range(1, 301)]
        if len(fresh.hubspot.contacts) >= 300
        else [str(i) for i in fresh.hubspot.contact_ids]
    )
    added = lists.memberships_api.add(list_id, [*ids, "987654"])
    assert added.records_ids_added == ids
    assert added.record_ids_missing == ["987654"]
    again = lists.memberships_api.add_and_remove(
        list_id, {"recordIdsToAdd": [ids[0]], "recordIdsToRemove": [ids[1], "987654"]}
    )
    assert again.record_ids_removed == [ids[1]]
    assert sorted(again.record_ids_missing) == sorted([ids[0], "987654"])
    members: list[str] = []
    after = None
    while True:
        page = lists.memberships_api.get_page(list_id, after=after, limit=50)
        members.extend(r.record_id for r in page.results)
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    assert members == sorted(set(ids) - {ids[1]}, key=int)
    with pytest.raises(Exception) as err:  # noqa: PT011
        lists.memberships_api.get_page(list_id, limit=251)
    assert err.value.status == 400  # type: ignore[attr-defined]


def test_search_follows_the_spec_types(sb: Sandbox) -> None:
    path = "/crm/v3/objects/contacts/search"
    page = _raw(sb, "POST", path, {"limit": 5, "properties": ["phone"]}).json()
    assert page["paging"]["next"] == {"after": "5"}  # no `link: null`
    assert all(isinstance(v, str) for r in page["results"] for v in r["properties"].values())
    assert _raw(sb, "POST", path, {"limit": 5, "after": 5}).status_code == 400  # a token string
    group = {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}
    assert _raw(sb, "POST", path, {"filterGroups": [group] * 6}).status_code == 200
    assert _raw(sb, "POST", path, {"filterGroups": [group] * 7}).status_code == 400


def test_membership_bodies_the_spec_rejects_are_rejected(fresh: Sandbox) -> None:
    made = _raw(
        fresh, "POST", "/crm/v3/lists",
        {"name": "strict", "objectTypeId": "0-1", "processingType": "MANUAL"},
    ).json()["list"]["listId"]  # fmt: skip
    base = f"/crm/v3/lists/{made}/memberships"
    assert (
        _raw(fresh, "PUT", base + "/add-and-remove", {"recordIdsToAdd": ["1"]}).status_code == 400
    )
    bad = {"recordIdsToAdd": [1], "recordIdsToRemove": []}
    assert _raw(fresh, "PUT", base + "/add-and-remove", bad).status_code == 400
    assert _raw(fresh, "PUT", base + "/add", [1, 2]).status_code == 400
    assert _raw(fresh, "PUT", base + "/add", {"ids": ["1"]}).status_code == 400
    ok = {"recordIdsToAdd": ["1"], "recordIdsToRemove": []}
    assert _raw(fresh, "PUT", base + "/add-and-remove", ok).json()["recordsIdsAdded"] == ["1"]


def test_list_names_are_unique_across_the_portal_and_deleted_lists_are_gone(fresh: Sandbox) -> None:
    body = {"name": "Shared Name", "objectTypeId": "0-2", "processingType": "MANUAL"}
    company_list = _raw(fresh, "POST", "/crm/v3/lists", body).json()["list"]["listId"]
    again = _raw(
        fresh, "POST", "/crm/v3/lists", {**body, "objectTypeId": "0-1", "name": "shared name"}
    )
    assert again.status_code == 400
    assert _raw(fresh, "DELETE", f"/crm/v3/lists/{company_list}", None).status_code == 204
    for method, path in (
        ("GET", f"/crm/v3/lists/{company_list}"),
        ("GET", f"/crm/v3/lists/{company_list}/memberships"),
        ("DELETE", f"/crm/v3/lists/{company_list}"),
    ):
        r = _raw(fresh, method, path, None)
        assert r.status_code == 404
        assert r.json()["message"] == f"List {company_list} does not exist."
    bad = {"recordIdsToAdd": ["1"], "recordIdsToRemove": []}
    assert (
        _raw(
            fresh, "PUT", f"/crm/v3/lists/{company_list}/memberships/add-and-remove", bad
        ).status_code
        == 404
    )
