"""HubSpot's route table, at the real paths of the CRM v3/v4, Lists v3 and account-info APIs."""

from __future__ import annotations

from collections.abc import Callable

from syncd.sandbox.core.limits import LimitState
from syncd.sandbox.core.routing import Request, Response, Route, Router
from syncd.sandbox.hubspot import (
    account,
    associations,
    lifecycle,
    lists,
    objects,
    properties,
    search,
)
from syncd.sandbox.hubspot.state import HubSpotState

SEARCH_TEMPLATE = "/crm/v3/objects/{objectType}/search"
USAGE_TEMPLATE = "/account-info/v3/api-usage/daily/private-apps"


def build_router(
    limits: Callable[[], LimitState], search_delay_ms: Callable[[], float] = lambda: 0.0
) -> Router[HubSpotState]:
    """HubSpot routes; `limits` and `search_delay_ms` are read per call (tests change them)."""

    def do_search(state: HubSpotState, req: Request) -> Response:
        return search.search(state, req, limits().limits, int(search_delay_ms()))

    def assoc_read(state: HubSpotState, req: Request) -> Response:
        return associations.associations_batch_read(state, req, limits().limits)

    def usage(state: HubSpotState, req: Request) -> Response:
        return account.daily_usage(state, req, limits().daily)

    obj = "/crm/v3/objects/{objectType}"
    lst = "/crm/v3/lists"
    prop = "/crm/v3/properties/{objectType}"
    contacts = "/crm/v3/objects/contacts"
    return Router(
        [
            Route("POST", SEARCH_TEMPLATE, do_search, read_post=True),
            Route("POST", contacts, lifecycle.create_contact_endpoint),
            Route("POST", contacts + "/batch/archive", lifecycle.batch_archive),
            Route("POST", contacts + "/gdpr-delete", lifecycle.gdpr_delete),
            Route("POST", contacts + "/merge", lifecycle.merge_contacts),
            Route("DELETE", contacts + "/{objectId}", lifecycle.delete_contact),
            Route("POST", obj + "/batch/read", objects.batch_read, read_post=True),
            Route("POST", obj + "/batch/update", objects.batch_update),
            Route("POST", obj + "/batch/upsert", objects.batch_upsert),
            Route("GET", obj, objects.list_objects),
            Route("GET", obj + "/{objectId}", objects.get_object),
            Route("PATCH", obj + "/{objectId}", objects.patch_object),
            Route("GET", prop, properties.list_properties),
            Route("POST", prop, properties.create_property),
            Route("GET", prop + "/{propertyName}", properties.get_property),
            Route("PATCH", prop + "/{propertyName}", properties.update_property),
            Route(
                "POST",
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                assoc_read,
                read_post=True,
            ),
            Route("POST", lst + "/search", lists.search_lists, read_post=True),
            Route(
                "GET",
                lst + "/object-type-id/{objectTypeId}/name/{listName}",
                lists.get_list_by_name,
            ),
            Route(
                "GET",
                lst + "/records/{objectTypeId}/{recordId}/memberships",
                lists.record_memberships,
            ),
            Route("POST", lst, lists.create_list),
            Route("GET", lst + "/{listId}", lists.get_list),
            Route("DELETE", lst + "/{listId}", lists.delete_list),
            Route("PUT", lst + "/{listId}/memberships/add", lists.add_members),
            Route("PUT", lst + "/{listId}/memberships/remove", lists.remove_members),
            Route("PUT", lst + "/{listId}/memberships/add-and-remove", lists.add_and_remove),
            Route("GET", lst + "/{listId}/memberships", lists.read_members),
            Route("GET", USAGE_TEMPLATE, usage),
        ]
    )
