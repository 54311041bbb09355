"""The emulator's optional search indexing delay (`search_delay_ms` in `/_sandbox/faults`).

HubSpot: new or updated objects "may take a few moments" to appear in search; reads by id and
the list endpoint see them at once. The delay is set to an hour so the edit is inside it
whatever the machine's speed, then to 0 for "the index has caught up".
"""

from __future__ import annotations

from typing import Any

import requests

from syncd.sandbox import Sandbox
from tests.support.sandboxes import as_person

HOUR_MS = 3_600_000


def _hs(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    r = as_person(sb, method, path, body)
    assert r.status_code == 200, r.text
    return r.json()


def _changed_since(sb: Sandbox, since_ms: int) -> set[str]:
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}
                ]
            }
        ],
        "limit": 200,
    }
    found = _hs(sb, "POST", "/crm/v3/objects/contacts/search", body)
    assert found["total"] == len(found["results"])
    return {r["id"] for r in found["results"]}


def _set_delay(sb: Sandbox, delay_ms: int) -> None:
    r = requests.post(
        f"{sb.base_url}/_sandbox/faults", json={"search_delay_ms": delay_ms}, timeout=10
    )
    assert r.status_code == 200 and r.json()["search_delay_ms"] == delay_ms


def test_a_fresh_edit_is_hidden_from_search_only_until_indexed(fresh: Sandbox) -> None:
    cid = str(min(fresh.hubspot.contacts))
    since = fresh.hubspot.clock.now_ms()
    _set_delay(fresh, HOUR_MS)
    _hs(fresh, "PATCH", f"/crm/v3/objects/contacts/{cid}", {"properties": {"firstname": "New"}})
    assert cid not in _changed_since(fresh, since)  # not indexed yet
    # Reads by id and the list endpoint see the edit at once.
    got = _hs(fresh, "GET", f"/crm/v3/objects/contacts/{cid}?properties=firstname")
    assert got["properties"]["firstname"] == "New"
    listed = _hs(fresh, "GET", "/crm/v3/objects/contacts?limit=100&properties=firstname")
    assert {r["id"]: r["properties"].get("firstname") for r in listed["results"]}[cid] == "New"
    _set_delay(fresh, 0)  # the index caught up
    assert cid in _changed_since(fresh, since)


def test_records_older_than_the_delay_are_still_found(fresh: Sandbox) -> None:
    every = _changed_since(fresh, 0)
    _set_delay(fresh, 1)  # the seed data was written well over a millisecond ago
    assert _changed_since(fresh, 0) == every


def test_bad_search_delay_is_refused(fresh: Sandbox) -> None:
    for bad in (-1, "slow", True, HOUR_MS + 1):
        r = requests.post(
            f"{fresh.base_url}/_sandbox/faults", json={"search_delay_ms": bad}, timeout=10
        )
        assert r.status_code == 400, bad
    default = requests.get(f"{fresh.base_url}/_sandbox/faults", timeout=10).json()
    assert default["search_delay_ms"] == 0
