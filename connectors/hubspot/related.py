"""Deal and company changes, for the incremental pull: which contacts they touch.

Editing a deal or a company does not move its contacts' `lastmodifieddate`, so the contact
search alone would leave their revenue and firmographic fields stale until the nightly full
pull. The incremental pull therefore also searches deals and companies on
`hs_lastmodifieddate` (other objects' last-modified property; api-facts 1.2) over the same
window, and reads the contacts associated with what changed (v4 batch read from the deal or
company side, paged to the end). Searches go through the client's search limiter and every
call through its budget, like the contact search.

A window with more than 10,000 changed deals (the search cap) is read up to the cap; the rest
reach their contacts with the next full pull, and a warning says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.hubspot.client import PAGING, HubSpotClient
from connectors.hubspot.enrich import read_all_associations
from connectors.hubspot.limits import ASSOC_BATCH_MAX, SEARCH_CAP, SEARCH_PAGE_MAX
from syncd.events import Event
from syncd.http import PageToken, paginate
from syncd.logs import get_logger

MODIFIED = "hs_lastmodifieddate"
log = get_logger(__name__)


def changed_objects(
    client: HubSpotClient, object_type: str, since_ms: int, until_ms: int
) -> list[str]:
    """Ids of the deals or companies modified in `[since_ms, until_ms]` (up to the cap)."""

    def fetch(cursor: PageToken) -> Any:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": MODIFIED, "operator": "GTE", "value": str(since_ms)},
                        {"propertyName": MODIFIED, "operator": "LTE", "value": str(until_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": [MODIFIED],
            "limit": SEARCH_PAGE_MAX,
        }
        if cursor.token:
            body["after"] = cursor.token
        return client.search_objects(object_type, body)

    ids: list[str] = []
    endpoint = f"POST /crm/v3/objects/{object_type}/search"
    for page in paginate(endpoint, fetch, PAGING):
        ids.extend(str(r.get("id")) for r in page.data.get("results") or [])
        if len(ids) + SEARCH_PAGE_MAX > SEARCH_CAP and not page.last:
            log.warning(Event.HUBSPOT_RELATED_CAPPED, object_type=object_type, read=len(ids))
            break
    return list(dict.fromkeys(ids))


def contacts_of(client: HubSpotClient, object_type: str, ids: Sequence[str]) -> set[str]:
    """Ids of the contacts associated with the deals or companies `ids`."""
    out: set[str] = set()
    for start in range(0, len(ids), ASSOC_BATCH_MAX):
        chunk = ids[start : start + ASSOC_BATCH_MAX]
        for _, targets in read_all_associations(client, "contacts", chunk, from_type=object_type):
            out.update(str(t.get("toObjectId")) for t in targets if t.get("toObjectId"))
    return out


def touched_contacts(
    client: HubSpotClient, object_types: Sequence[str], since_ms: int, until_ms: int
) -> set[str]:
    """Contacts whose deals or companies (`object_types`) changed in the window."""
    out: set[str] = set()
    for object_type in object_types:
        changed = changed_objects(client, object_type, since_ms, until_ms)
        if changed:
            out |= contacts_of(client, object_type, changed)
    return out
