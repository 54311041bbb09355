"""The HubSpot private-app scopes syncd needs: one list, derived from the endpoints it calls.

Each endpoint the client calls (by the label it is counted under, `client.py`) is mapped to the
scope HubSpot requires for it (HubSpot's OpenAPI specs name the scopes of every operation).
`REQUIRED_SCOPES` is derived from that map, so it cannot list a scope no call needs, and a test
runs a full sync against the emulator and checks that every endpoint called is in the map. The
README's "Connect HubSpot and Mailchimp" section and `syncd check`'s advice on a 403 show this
list.
"""

from __future__ import annotations

from collections.abc import Mapping

CONTACTS_READ = "crm.objects.contacts.read"
CONTACTS_WRITE = "crm.objects.contacts.write"
DEALS_READ = "crm.objects.deals.read"
COMPANIES_READ = "crm.objects.companies.read"
LISTS_READ = "crm.lists.read"
LISTS_WRITE = "crm.lists.write"
SCHEMAS_READ = "crm.schemas.contacts.read"
SCHEMAS_WRITE = "crm.schemas.contacts.write"

#: Endpoint label (as `HubSpotClient.send` counts it) -> the scope HubSpot checks for it.
ENDPOINT_SCOPES: Mapping[str, str] = {
    "GET /crm/v3/objects/contacts": CONTACTS_READ,
    "POST /crm/v3/objects/contacts/search": CONTACTS_READ,
    "POST /crm/v3/objects/contacts/batch/read": CONTACTS_READ,
    "POST /crm/v3/objects/contacts/batch/update": CONTACTS_WRITE,
    "POST /crm/v4/associations/contacts/deals/batch/read": DEALS_READ,
    "POST /crm/v4/associations/contacts/companies/batch/read": COMPANIES_READ,
    "POST /crm/v4/associations/deals/contacts/batch/read": DEALS_READ,
    "POST /crm/v4/associations/companies/contacts/batch/read": COMPANIES_READ,
    "POST /crm/v3/objects/deals/batch/read": DEALS_READ,
    "POST /crm/v3/objects/companies/batch/read": COMPANIES_READ,
    # Deal and company edits found by modification date, then their contacts re-read.
    "POST /crm/v3/objects/deals/search": DEALS_READ,
    "POST /crm/v3/objects/companies/search": COMPANIES_READ,
    "GET /crm/v3/lists/{listId}": LISTS_READ,
    "GET /crm/v3/lists/object-type-id/0-1/name/{listName}": LISTS_READ,
    "GET /crm/v3/lists/{listId}/memberships": LISTS_READ,
    "POST /crm/v3/lists": LISTS_WRITE,
    "PUT /crm/v3/lists/{listId}/memberships/add-and-remove": LISTS_WRITE,
    "GET /crm/v3/properties/contacts/{name}": SCHEMAS_READ,
    "POST /crm/v3/properties/contacts": SCHEMAS_WRITE,
    "PATCH /crm/v3/properties/contacts/{name}": SCHEMAS_WRITE,
}

#: Every scope the private app needs, sorted: the one list the README and `syncd check` show.
REQUIRED_SCOPES: tuple[str, ...] = tuple(sorted(set(ENDPOINT_SCOPES.values())))
