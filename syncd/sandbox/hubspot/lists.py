"""HubSpot Lists v3.

Create (MANUAL/SNAPSHOT), get by id and by name, search, membership writes by record id and
membership reads.

Membership writes answer with `recordsIdsAdded` (the spelling of the spec and the SDK model),
`recordIdsRemoved` and `recordIdsMissing` (unknown ids, and ids already in the requested state).
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot.errors import hubspot_error, hubspot_not_found
from syncd.sandbox.hubspot.state import HsList, HubSpotState

MEMBERSHIPS_PAGE_MAX = 250
LIST_SEARCH_MAX = 500
PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")


def list_json(lst: HsList, *, with_size: bool = True) -> dict[str, Any]:
    """A list in the `PublicObjectList` shape."""
    d: dict[str, Any] = {
        "listId": str(lst.list_id),
        "listVersion": lst.version,
        "name": lst.name,
        "objectTypeId": lst.object_type_id,
        "processingType": lst.processing_type,
        "processingStatus": "COMPLETE",
        "createdAt": iso_ms(lst.created_ms),
        "updatedAt": iso_ms(lst.updated_ms),
        "filtersUpdatedAt": iso_ms(lst.created_ms),
        "createdById": "1",
        "updatedById": "1",
    }
    if with_size:
        d["size"] = len(lst.members)
    return d


def _get_list(state: HubSpotState, raw: str) -> HsList:
    lst = state.lists.get(int(raw)) if raw.isdigit() else None
    if lst is None:
        raise hubspot_not_found(f"List {raw} does not exist.")
    return lst


def create_list(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/lists`: names are unique across every list of the portal.

    HubSpot's create-list reference (`name`: unique across all public lists in the portal,
    https://developers.hubspot.com/docs/api-reference/latest/crm/lists/create-list): a company
    list's name is taken for contact lists too.
    """
    body = req.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise hubspot_error(400, "name is required")
    ptype = body.get("processingType")
    require(
        ptype in PROCESSING_TYPES,
        hubspot_error(400, f"processingType must be one of {list(PROCESSING_TYPES)}"),
    )
    otype = body.get("objectTypeId")
    if not isinstance(otype, str) or not otype:
        raise hubspot_error(400, "objectTypeId is required")
    require(
        ptype == "MANUAL" or "filterBranch" in body,
        hubspot_error(400, f"filterBranch is required for {ptype} lists"),
    )
    for lst in state.lists.values():
        if lst.name.lower() == name.strip().lower():
            raise hubspot_error(
                400,
                f"A list named '{name}' already exists.",
                "VALIDATION_ERROR",
                subCategory="ILS.DUPLICATE_LIST_NAMES",
            )
    now = state.clock.write_ms()
    lst = HsList(state.next_list_id, name.strip(), str(ptype), otype, now, now)
    state.next_list_id += 1
    state.lists[lst.list_id] = lst
    return Response(200, {"list": list_json(lst)})


def get_list(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/lists/{listId}`."""
    return Response(200, {"list": list_json(_get_list(state, req.args["listId"]))})


def get_list_by_name(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}` (case-insensitive)."""
    name = req.args["listName"].lower()
    for lst in state.lists.values():
        if lst.name.lower() == name and lst.object_type_id == req.args["objectTypeId"]:
            return Response(200, {"list": list_json(lst)})
    raise hubspot_not_found(f"List with name {req.args['listName']} does not exist.")


def delete_list(state: HubSpotState, req: Request) -> Response:
    """`DELETE /crm/v3/lists/{listId}` (204); afterwards every call on the id is a 404.

    Source: "Delete a list",
    "Delete a List" in the Lists v3 spec (HubSpot/HubSpot-public-api-spec-collection,
    PublicApiSpecs/CRM/Lists/Rollouts/144891/v3/lists.json)
    (lists can be restored for 90 days; the sandbox does not restore them).
    """
    lst = _get_list(state, req.args["listId"])
    del state.lists[lst.list_id]
    return Response(204)


def search_lists(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/lists/search`: `query` matches name substrings; `count` <= 500."""
    body = req.json_object()
    count = body.get("count", 20)
    require(
        isinstance(count, int) and 1 <= count <= LIST_SEARCH_MAX,
        hubspot_error(400, f"count must be between 1 and {LIST_SEARCH_MAX}"),
    )
    offset = body.get("offset", 0)
    require(isinstance(offset, int) and offset >= 0, hubspot_error(400, "offset must be >= 0"))
    query = str(body.get("query") or "").lower()
    types = body.get("processingTypes") or []
    wanted_ids = {str(i) for i in body.get("listIds") or []}
    found = [
        lst
        for lst in state.lists.values()
        if query in lst.name.lower()
        and (not types or lst.processing_type in types)
        and (not wanted_ids or str(lst.list_id) in wanted_ids)
    ]
    page = found[offset : offset + count]
    return Response(
        200,
        {
            "lists": [
                {
                    **list_json(lst, with_size=False),
                    "additionalProperties": {"hs_list_size": str(len(lst.members))},
                }
                for lst in page
            ],
            "hasMore": offset + count < len(found),
            "offset": offset + len(page),
            "total": len(found),
        },
    )


def _ids(raw: Any, field: str) -> list[str]:
    """Record ids as the spec types them: an array of strings (a missing array is refused)."""
    require(
        isinstance(raw, list) and all(isinstance(i, str) for i in raw),
        hubspot_error(400, f"{field} must be an array of record ids (strings)"),
    )
    return list(raw)


def _change(state: HubSpotState, lst: HsList, add: list[str], remove: list[str]) -> dict[str, Any]:
    require(
        lst.processing_type in ("MANUAL", "SNAPSHOT"),
        hubspot_error(
            400,
            f"List {lst.list_id} is {lst.processing_type}; memberships of "
            "DYNAMIC lists cannot be changed by hand.",
        ),
    )
    added, removed, missing = [], [], []
    now = state.clock.write_ms()
    for raw in add:
        rid = int(raw) if raw.isdigit() else -1
        if rid not in state.contacts or rid in lst.members:
            missing.append(raw)
        else:
            lst.members[rid] = now
            added.append(raw)
    for raw in remove:
        rid = int(raw) if raw.isdigit() else -1
        if rid in lst.members:
            del lst.members[rid]
            removed.append(raw)
        else:
            missing.append(raw)
    if added or removed:
        lst.updated_ms = now
    return {"recordIdsMissing": missing, "recordsIdsAdded": added, "recordIdsRemoved": removed}


def add_members(state: HubSpotState, req: Request) -> Response:
    """`PUT /crm/v3/lists/{listId}/memberships/add` with a JSON array of ids."""
    lst = _get_list(state, req.args["listId"])
    return Response(200, _change(state, lst, _ids(req.json(), "body"), []))


def remove_members(state: HubSpotState, req: Request) -> Response:
    """`PUT /crm/v3/lists/{listId}/memberships/remove` with a JSON array of ids."""
    lst = _get_list(state, req.args["listId"])
    return Response(200, _change(state, lst, [], _ids(req.json(), "body")))


def add_and_remove(state: HubSpotState, req: Request) -> Response:
    """`PUT /crm/v3/lists/{listId}/memberships/add-and-remove`.

    `MembershipChangeRequest` requires both `recordIdsToAdd` and `recordIdsToRemove`, arrays
    of strings ("Add and/or remove records from a list",
    https://developers.hubspot.com/docs/api-reference/crm-lists-v3/memberships/put-crm-v3-lists-listId-memberships-add-and-remove).
    """
    lst = _get_list(state, req.args["listId"])
    body = req.json_object()
    add = _ids(body.get("recordIdsToAdd"), "recordIdsToAdd")
    remove = _ids(body.get("recordIdsToRemove"), "recordIdsToRemove")
    return Response(200, _change(state, lst, add, remove))


def read_members(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/lists/{listId}/memberships`: sorted by record id, `limit` <= 250."""
    lst = _get_list(state, req.args["listId"])
    raw_limit = req.q("limit") or "100"
    require(raw_limit.isdigit(), hubspot_error(400, "limit must be an integer"))
    limit = int(raw_limit)
    require(
        1 <= limit <= MEMBERSHIPS_PAGE_MAX,
        hubspot_error(400, f"limit must be between 1 and {MEMBERSHIPS_PAGE_MAX}"),
    )
    after = req.q("after") or "0"
    require(after.isdigit(), hubspot_error(400, "after must be a cursor from paging.next"))
    ids = sorted(i for i in lst.members if i > int(after))
    page = ids[:limit]
    body: dict[str, Any] = {
        "results": [
            {"recordId": str(i), "membershipTimestamp": iso_ms(lst.members[i])} for i in page
        ],
        "total": len(lst.members),
    }
    if len(ids) > limit:
        body["paging"] = {"next": {"after": str(page[-1])}}
    return Response(200, body)


def record_memberships(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/lists/records/0-1/{recordId}/memberships`: lists holding one contact."""
    raw = req.args["recordId"]
    rid = int(raw) if raw.isdigit() else -1
    results = [
        {
            "listId": str(lst.list_id),
            "listVersion": lst.version,
            "firstAddedTimestamp": iso_ms(lst.members[rid]),
            "lastAddedTimestamp": iso_ms(lst.members[rid]),
        }
        for lst in state.lists.values()
        if rid in lst.members
    ]
    return Response(200, {"results": results, "total": len(results)})
