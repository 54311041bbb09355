"""Search by `hs_object_id` range, the query a keyset read sends page after page.

The emulator answers it by bisection (`search.id_range`); the answer must be the general
path's (`search.scan_ids`), bound by bound, in both sort orders, after deletes and merges.
"""

from __future__ import annotations

import random

import pytest

from syncd.sandbox import Sandbox
from syncd.sandbox.hubspot.search import id_range, scan_ids
from tests.support.sandboxes import as_person

SORTS = [
    [],
    [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
]


def test_the_bisection_gives_the_general_answer(fresh: Sandbox) -> None:
    ids = sorted(fresh.hubspot.contacts)
    for cid in ids[5:40:3]:  # gaps, as deletions leave
        as_person(fresh, "DELETE", f"/crm/v3/objects/contacts/{cid}").raise_for_status()
    rng = random.Random(4)
    state = fresh.hubspot
    for _ in range(300):
        filters = [
            {
                "propertyName": "hs_object_id",
                "operator": rng.choice(["LT", "LTE", "GT", "GTE"]),
                "value": str(rng.randint(ids[0] - 3, ids[-1] + 3)),
            }
            for _ in range(rng.randint(0, 2))
        ]
        groups = [{"filters": filters}] if filters or rng.random() < 0.5 else []
        sorts = rng.choice(SORTS)
        with fresh.state_lock():
            fast = id_range(state, "contacts", groups, sorts, "")
            slow = scan_ids(state, "contacts", groups, sorts, "")
        assert fast == slow, (groups, sorts)


@pytest.mark.parametrize(
    ("groups", "sorts", "query"),
    [
        ([{"filters": [{"propertyName": "email", "operator": "LT", "value": "m"}]}], [], ""),
        ([], [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], ""),
        ([], [], "example"),
        ([{"filters": []}, {"filters": []}], [], ""),
    ],
)
def test_other_queries_take_the_general_path(
    fresh: Sandbox, groups: list[dict[str, object]], sorts: list[dict[str, str]], query: str
) -> None:
    with fresh.state_lock():
        assert id_range(fresh.hubspot, "contacts", groups, sorts, query) is None


def test_a_keyset_read_over_the_endpoint_sees_every_contact_once(fresh: Sandbox) -> None:
    seen: list[int] = []
    below: int | None = None
    while True:
        filters = (
            []
            if below is None
            else [{"propertyName": "hs_object_id", "operator": "LT", "value": str(below)}]
        )
        body = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
            "limit": 37,
            "after": "0",
        }
        r = as_person(fresh, "POST", "/crm/v3/objects/contacts/search", body)
        assert r.status_code == 200, r.text
        page = [int(x["id"]) for x in r.json()["results"]]
        seen += page
        if "paging" not in r.json():
            break
        below = min(page)
    assert seen == sorted(fresh.hubspot.contacts, reverse=True)
