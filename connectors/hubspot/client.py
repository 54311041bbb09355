"""The HubSpot SDK objects, created once, and one method per endpoint syncd uses.

Every call goes through `syncd.http.CallPolicy` with a timeout and `_preload_content=False`:
the raw answer keeps its rate-limit headers, skips the SDK's slow model building and lets us
accept both spellings of the list membership keys (api-facts 1.3, 3.1). The API objects are
cached because each property access on `client.crm...` builds a new connection pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hubspot import HubSpot
from urllib3.util.retry import Retry

from connectors.hubspot.failures import detect
from connectors.hubspot.limits import (
    MEMBERSHIPS_PAGE_MAX,
    PER_10S,
    RATE_HEADERS,
    SEARCH_PER_S,
    WINDOW_S,
)
from syncd.failures import Reason
from syncd.http import (
    ApiStats,
    CallPolicy,
    CursorPaging,
    FindExisting,
    HeaderBudget,
    Limiter,
    RetrySettings,
    RollingWindow,
)
from syncd.http.classify import make_error

CONTACTS = "contacts"
#: Endpoints read page by page (labels of counters and errors).
LIST_CONTACTS = "GET /crm/v3/objects/contacts"
SEARCH_CONTACTS = "POST /crm/v3/objects/contacts/search"
LIST_MEMBERS = "GET /crm/v3/lists/{listId}/memberships"
#: Every cursor-paged HubSpot read names its next page in `paging.next.after` (api-facts 1.2,
#: 1.3); search puts its numeric offset there too.
#: The v4 association reads syncd makes, by `(from, to)` object type, as their labels.
ASSOCIATION_READS = {
    ("contacts", "deals"): "POST /crm/v4/associations/contacts/deals/batch/read",
    ("contacts", "companies"): "POST /crm/v4/associations/contacts/companies/batch/read",
    ("deals", "contacts"): "POST /crm/v4/associations/deals/contacts/batch/read",
    ("companies", "contacts"): "POST /crm/v4/associations/companies/contacts/batch/read",
}
NEXT_PAGE = ("paging", "next", "after")
PAGING = CursorPaging(NEXT_PAGE)


class _Answer:
    """A parsed answer that keeps its headers for the rate budget."""

    __slots__ = ("data", "headers", "status")

    def __init__(self, status: int, headers: Any, data: Any) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class HubSpotClient:
    """Thin, typed-enough access to the endpoints, with one policy for all of them.

    Args:
        base_url: `https://api.hubapi.com` or the sandbox.
        access_token: Private-app token.
        retry: Retry and timeout settings.
        stats: Call counters.
        budget: The header-fed rolling window for all calls but search.
        search_limiter: Search's own limit (default 4 per second).
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        retry: RetrySettings,
        stats: ApiStats,
        *,
        budget: Limiter | None = None,
        search_limiter: Limiter | None = None,
        pool_size: int = 8,
    ) -> None:
        # The SDK's urllib3 retry is switched off entirely (also its silent Retry-After
        # sleeps on 429), so the policy below is the only one that retries.
        no_retry = Retry(
            total=0, redirect=0, respect_retry_after_header=False, raise_on_status=False
        )
        sdk = HubSpot(
            access_token=access_token,
            host=base_url.rstrip("/"),
            retry=no_retry,
            connection_pool_maxsize=pool_size,
        )
        crm = sdk.crm
        self.contacts = crm.contacts.basic_api
        self.contacts_search = crm.contacts.search_api
        self.contacts_batch = crm.contacts.batch_api
        self.associations = crm.associations.v4.batch_api
        self.deals_batch = crm.deals.batch_api
        self.companies_batch = crm.companies.batch_api
        self.object_search = {"deals": crm.deals.search_api, "companies": crm.companies.search_api}
        self.lists = crm.lists.lists_api
        self.memberships = crm.lists.memberships_api
        self.properties = crm.properties.core_api
        self.policy = CallPolicy(
            "hubspot",
            retry,
            stats,
            budget or HeaderBudget(PER_10S, WINDOW_S, headers=RATE_HEADERS),
            rate_headers=RATE_HEADERS,
            detect=detect,
        )
        self.search_limiter = search_limiter or RollingWindow(SEARCH_PER_S, 1.0)
        self._timeout = (retry.connect_timeout_s, retry.timeout_s)

    # -- plumbing ---------------------------------------------------------------------------

    def send(
        self,
        endpoint: str,
        fn: Callable[..., Any],
        *args: Any,
        write: bool = False,
        search: bool = False,
        existing: FindExisting[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call an SDK method under the policy and return the parsed JSON body ({} if empty).

        `existing` makes the call a create that is never sent twice blindly (see
        `CallPolicy.call`); its `find` returns a body shaped like the create's answer.
        """

        def attempt() -> _Answer:
            resp = fn(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            try:
                raw = resp.data
            finally:
                resp.release_conn()
            return _Answer(resp.status, resp.headers, _parse(raw, endpoint))

        as_answer: FindExisting[_Answer] | None = None
        if existing is not None:
            lookup = existing

            def find() -> _Answer | None:
                data = lookup.find()
                return None if data is None else _Answer(200, None, data)

            as_answer = FindExisting(find, lookup.already_exists)
        limiter = self.search_limiter if search else None
        answer = self.policy.call(
            endpoint, attempt, limiter=limiter, write=write, existing=as_answer
        )
        return answer.data

    # -- contacts ---------------------------------------------------------------------------

    def list_contacts(self, after: str | None, properties: Sequence[str], limit: int) -> Any:
        """One page of `GET /crm/v3/objects/contacts`."""
        kwargs: dict[str, Any] = {"limit": limit, "properties": list(properties)}
        if after:
            kwargs["after"] = after
        return self.send(LIST_CONTACTS, self.contacts.get_page, **kwargs)

    def search_contacts(self, body: dict[str, Any]) -> Any:
        """One page of `POST /crm/v3/objects/contacts/search` (search's own limiter)."""
        return self.send(
            SEARCH_CONTACTS,
            self.contacts_search.do_search,
            public_object_search_request=body,
            search=True,
        )

    def search_objects(self, object_type: str, body: dict[str, Any]) -> Any:
        """One page of `POST /crm/v3/objects/{deals|companies}/search` (search's limiter)."""
        return self.send(
            f"POST /crm/v3/objects/{object_type}/search",
            self.object_search[object_type].do_search,
            public_object_search_request=body,
            search=True,
        )

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> Any:
        """`POST /crm/v3/objects/contacts/batch/read` (<= 100)."""
        return self.send(
            "POST /crm/v3/objects/contacts/batch/read",
            self.contacts_batch.read,
            batch_read_input_simple_public_object_id=_read_body(ids, properties),
        )

    def update_contacts(self, inputs: list[dict[str, Any]]) -> Any:
        """`POST /crm/v3/objects/contacts/batch/update` (<= 100); 200 or 207."""
        return self.send(
            "POST /crm/v3/objects/contacts/batch/update",
            self.contacts_batch.update,
            batch_input_simple_public_object_batch_input={"inputs": inputs},
            write=True,
        )

    # -- associations, deals, companies -----------------------------------------------------

    def read_associations(
        self,
        to_type: str,
        ids: Sequence[str],
        after: Mapping[str, str] | None = None,
        *,
        from_type: str = CONTACTS,
    ) -> Any:
        """One page of `POST /crm/v4/associations/{from_type}/{to_type}/batch/read` (<= 1,000).

        `after` holds, per input id, the `paging.next.after` token its previous page named
        (each result pages on its own; see `enrich.read_all_associations`).
        """
        cursors = after or {}
        return self.send(
            ASSOCIATION_READS[from_type, to_type],
            self.associations.get_page,
            from_type,
            to_type,
            batch_input_public_fetch_associations_batch_request={
                "inputs": [
                    {"id": i, "after": cursors[i]} if i in cursors else {"id": i} for i in ids
                ]
            },
        )

    def read_objects(self, object_type: str, ids: Sequence[str], properties: Sequence[str]) -> Any:
        """`POST /crm/v3/objects/{deals|companies}/batch/read` (<= 100)."""
        api = self.deals_batch if object_type == "deals" else self.companies_batch
        return self.send(
            f"POST /crm/v3/objects/{object_type}/batch/read",
            api.read,
            batch_read_input_simple_public_object_id=_read_body(ids, properties),
        )

    # -- lists ------------------------------------------------------------------------------

    def get_list(self, list_id: str) -> Any:
        """`GET /crm/v3/lists/{listId}`."""
        return self.send("GET /crm/v3/lists/{listId}", self.lists.get_by_id, list_id)

    def get_list_by_name(self, name: str) -> Any:
        """`GET /crm/v3/lists/object-type-id/0-1/name/{listName}`."""
        return self.send(
            "GET /crm/v3/lists/object-type-id/0-1/name/{listName}",
            self.lists.get_by_name,
            name,
            "0-1",
        )

    def create_list(self, name: str, existing: FindExisting[Any] | None = None) -> Any:
        """`POST /crm/v3/lists`: a MANUAL contact list (`existing`: see `send`)."""
        body = {"name": name, "objectTypeId": "0-1", "processingType": "MANUAL"}
        return self.send(
            "POST /crm/v3/lists", self.lists.create, body, write=True, existing=existing
        )

    def add_and_remove(self, list_id: str, add: Sequence[str], remove: Sequence[str]) -> Any:
        """`PUT /crm/v3/lists/{listId}/memberships/add-and-remove`."""
        body = {"recordIdsToAdd": list(add), "recordIdsToRemove": list(remove)}
        return self.send(
            "PUT /crm/v3/lists/{listId}/memberships/add-and-remove",
            self.memberships.add_and_remove,
            list_id,
            body,
            write=True,
        )

    def list_members(self, list_id: str, after: str | None) -> Any:
        """One page of `GET /crm/v3/lists/{listId}/memberships` (250)."""
        kwargs: dict[str, Any] = {"limit": MEMBERSHIPS_PAGE_MAX}
        if after:
            kwargs["after"] = after
        return self.send(LIST_MEMBERS, self.memberships.get_page, list_id, **kwargs)

    # -- properties -------------------------------------------------------------------------

    def get_property(self, name: str) -> Any:
        """`GET /crm/v3/properties/contacts/{name}`."""
        return self.send(
            "GET /crm/v3/properties/contacts/{name}", self.properties.get_by_name, CONTACTS, name
        )

    def create_property(self, body: dict[str, Any]) -> Any:
        """`POST /crm/v3/properties/contacts`."""
        return self.send(
            "POST /crm/v3/properties/contacts", self.properties.create, CONTACTS, body, write=True
        )

    def update_property(self, name: str, body: dict[str, Any]) -> Any:
        """`PATCH /crm/v3/properties/contacts/{name}` (options are replaced as a whole)."""
        return self.send(
            "PATCH /crm/v3/properties/contacts/{name}",
            self.properties.update,
            CONTACTS,
            name,
            body,
            write=True,
        )


def _read_body(ids: Sequence[str], properties: Sequence[str]) -> dict[str, Any]:
    return {
        "inputs": [{"id": i} for i in ids],
        "properties": list(properties),
        "propertiesWithHistory": [],
    }


def _parse(raw: bytes, endpoint: str) -> Any:
    """JSON body, `{}` when empty; an unreadable body (a proxy's HTML page) is retried."""
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise make_error(
            "hubspot",
            endpoint,
            None,
            "answer is not JSON (proxy or outage page)",
            reason=Reason.VENDOR_UNAVAILABLE,
        ) from None
