"""The route tables of both APIs, at the vendors' real paths."""

from __future__ import annotations

from collections.abc import Callable

from syncd.sandbox import hubspot_api as hs
from syncd.sandbox import hubspot_lists as hl
from syncd.sandbox import hubspot_meta as hm
from syncd.sandbox import hubspot_search
from syncd.sandbox import mailchimp_members as mm
from syncd.sandbox import mailchimp_segments as ms
from syncd.sandbox.limits import Limits
from syncd.sandbox.routing import Handler, Request, Response, Route, Router
from syncd.sandbox.state import State

SEARCH_TEMPLATE = "/crm/v3/objects/{objectType}/search"
USAGE_TEMPLATE = "/account-info/v3/api-usage/daily/private-apps"


def hubspot_router(limits: Callable[[], Limits], usage: Handler) -> Router:
    """HubSpot routes; `limits` is read per search call so limits can change at runtime."""

    def search(state: State, req: Request) -> Response:
        return hubspot_search.search(state, req, limits())

    obj = "/crm/v3/objects/{objectType}"
    lists = "/crm/v3/lists"
    return Router(
        [
            Route("POST", SEARCH_TEMPLATE, search, read_post=True),
            Route("POST", obj + "/batch/read", hs.batch_read, read_post=True),
            Route("POST", obj + "/batch/update", hs.batch_update),
            Route("POST", obj + "/batch/upsert", hs.batch_upsert),
            Route("GET", obj, hs.list_objects),
            Route("GET", obj + "/{objectId}", hs.get_object),
            Route("PATCH", obj + "/{objectId}", hs.patch_object),
            Route("GET", "/crm/v3/properties/{objectType}", hm.list_properties),
            Route("POST", "/crm/v3/properties/{objectType}", hm.create_property),
            Route("GET", "/crm/v3/properties/{objectType}/{propertyName}", hm.get_property),
            Route("PATCH", "/crm/v3/properties/{objectType}/{propertyName}", hm.update_property),
            Route(
                "POST",
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                hm.associations_batch_read,
                read_post=True,
            ),
            Route("POST", lists + "/search", hl.search_lists, read_post=True),
            Route(
                "GET", lists + "/object-type-id/{objectTypeId}/name/{listName}", hl.get_list_by_name
            ),
            Route(
                "GET",
                lists + "/records/{objectTypeId}/{recordId}/memberships",
                hl.record_memberships,
            ),
            Route("POST", lists, hl.create_list),
            Route("GET", lists + "/{listId}", hl.get_list),
            Route("DELETE", lists + "/{listId}", hl.delete_list),
            Route("PUT", lists + "/{listId}/memberships/add", hl.add_members),
            Route("PUT", lists + "/{listId}/memberships/remove", hl.remove_members),
            Route("PUT", lists + "/{listId}/memberships/add-and-remove", hl.add_and_remove),
            Route("GET", lists + "/{listId}/memberships", hl.read_members),
            Route("GET", USAGE_TEMPLATE, usage),
        ]
    )


def mailchimp_router() -> Router:
    """Mailchimp routes, under `/3.0`."""
    lst = "/3.0/lists/{list_id}"
    member = lst + "/members/{subscriber_hash}"
    return Router(
        [
            Route("GET", "/3.0/ping", ms.ping),
            Route("GET", "/3.0/lists", ms.get_lists),
            Route("GET", lst, ms.get_list),
            Route("POST", lst, mm.batch_subscribe),
            Route("GET", lst + "/members", mm.list_members),
            Route("GET", member, mm.read_member),
            Route("PUT", member, mm.put_member),
            Route("PATCH", member, mm.patch_member),
            Route("DELETE", member, mm.delete_member),
            Route("GET", member + "/tags", ms.member_tags),
            Route("POST", member + "/tags", ms.post_member_tags),
            Route("GET", member + "/activity", ms.member_activity),
            Route("GET", lst + "/segments", ms.list_segments),
            Route("POST", lst + "/segments", ms.create_segment),
            Route("GET", lst + "/segments/{segment_id}", ms.get_segment),
            Route("POST", lst + "/segments/{segment_id}", ms.batch_segment),
            Route("DELETE", lst + "/segments/{segment_id}", ms.delete_segment),
            Route("GET", lst + "/segments/{segment_id}/members", ms.segment_members),
            Route("GET", lst + "/tag-search", ms.tag_search),
        ]
    )
