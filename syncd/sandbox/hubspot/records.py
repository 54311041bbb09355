"""HubSpot CRM records on the wire.

Object types, default and always-sent properties, the record and batch-response shapes, and batch-
input parsing shared by every object endpoint.

Shapes follow the CRM v3 reference: every property value is a string, dates are ISO 8601 with
`Z`, ids are strings of integers, batch calls return 200 or 207 with per-input errors.
"""

from __future__ import annotations

import re
from typing import Any

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot import property_catalog as hp
from syncd.sandbox.hubspot.errors import hubspot_error
from syncd.sandbox.hubspot.state import HsObject, HubSpotState

BATCH_MAX = 100
HISTORY_BATCH_MAX = 50
PAGE_MAX = 100
ASSOC_BATCH_MAX = 1000
OBJECT_TYPES = {
    "contacts": "contacts",
    "0-1": "contacts",
    "companies": "companies",
    "0-2": "companies",
    "deals": "deals",
    "0-3": "deals",
}
ALWAYS = {
    "contacts": ("createdate", "hs_object_id", "lastmodifieddate"),
    "companies": ("createdate", "hs_object_id", "hs_lastmodifieddate"),
    "deals": ("createdate", "hs_object_id", "hs_lastmodifieddate"),
}
DEFAULTS = {
    "contacts": hp.DEFAULT_CONTACT_PROPS,
    "companies": hp.DEFAULT_COMPANY_PROPS,
    "deals": hp.DEFAULT_DEAL_PROPS,
}
ASSOC_TYPES: dict[str, list[tuple[int, str, str | None, str]]] = {
    "companies": [
        (1, "HUBSPOT_DEFINED", "Primary", "contact_to_company"),
        (279, "HUBSPOT_DEFINED", None, "contact_to_company_unlabeled"),
    ],
    "deals": [(4, "HUBSPOT_DEFINED", None, "contact_to_deal")],
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def object_type(req: Request) -> str:
    """The canonical object type in the path (`contacts`, `0-1`, ...), or a 400."""
    t = OBJECT_TYPES.get(req.args.get("objectType", "contacts"))
    if t is None:
        raise hubspot_error(400, f"Unable to infer object type from: {req.args.get('objectType')}")
    return t


def store(state: HubSpotState, otype: str) -> dict[int, HsObject]:
    """The dict holding records of one type."""
    if otype == "contacts":
        return state.contacts
    return state.companies if otype == "companies" else state.deals


def object_json(
    o: HsObject, otype: str, props: list[str] | None, assoc: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A record in the wire shape; requested properties that have no value are left out.

    The spec types every property value as a string (`SimplePublicObject.properties`:
    `additionalProperties: {type: string}`; HubSpot/HubSpot-public-api-spec-collection,
    PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json),
    so an empty value is absent rather than `null`.
    """
    names = props if props else DEFAULTS[otype]
    out: dict[str, str] = {}
    for n in (*names, *ALWAYS[otype]):
        value = o.props.get(n)
        if value is not None:
            out[n] = value
    d: dict[str, Any] = {
        "id": str(o.id),
        "properties": out,
        "createdAt": iso_ms(o.created_ms),
        "updatedAt": iso_ms(o.updated_ms),
        "archived": o.archived,
    }
    if o.archived_ms is not None:
        d["archivedAt"] = iso_ms(o.archived_ms)
    if assoc:
        d["associations"] = assoc
    return d


def inline_associations(state: HubSpotState, cid: int, kinds: list[str]) -> dict[str, Any]:
    """`associations=deals,companies` on contact reads."""
    out: dict[str, Any] = {}
    for kind in kinds:
        kind = OBJECT_TYPES.get(kind, kind)
        ids = (state.contact_deals if kind == "deals" else state.contact_companies).get(cid)
        if kind not in ASSOC_TYPES or not ids:
            continue
        out[kind] = {
            "results": [{"id": str(i), "type": t[3]} for i in ids for t in ASSOC_TYPES[kind]]
        }
    return out


def int_param(req: Request, name: str, default: int, maximum: int) -> int:
    """A query parameter that must be an integer in [1, maximum] (absent: `default`)."""
    raw = req.q(name)
    if raw is None:
        return default
    require(raw.isdigit(), hubspot_error(400, f"{name} must be an integer"))
    value = int(raw)
    require(
        1 <= value <= maximum,
        hubspot_error(400, f"{name} must be between 1 and {maximum}, was {value}"),
    )
    return value


def _batch_time(state: HubSpotState) -> dict[str, str]:
    t = iso_ms(state.clock.now_ms())
    return {"startedAt": t, "completedAt": t}


def batch_response(
    state: HubSpotState, results: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> Response:
    """200, or 207 with `numErrors` and `errors` when any input failed."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, **_batch_time(state)}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Response(207, body)
    return Response(200, body)


def not_found_error(otype: str, ids: list[str]) -> dict[str, Any]:
    """One 207 error entry for ids that do not exist."""
    kind = otype.rstrip("s").upper().replace("COMPANIE", "COMPANY")
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {kind} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }


def batch_inputs(req: Request, maximum: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The body and its `inputs` list (objects only, at most `maximum`), else a 400."""
    body = req.json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise hubspot_error(400, "inputs is required and must be a list of objects")
    # Every batch input's `id` is a string in the specs (`SimplePublicObjectId`,
    # `PublicFetchAssociationsBatchRequest`, ...): a number is refused as HubSpot's
    # validation refuses a body that does not match its schema.
    require(
        all(isinstance(i.get("id"), str) for i in inputs if "id" in i),
        hubspot_error(400, "inputs[].id must be a string"),
    )
    require(
        len(inputs) <= maximum,
        hubspot_error(
            400,
            f"The maximum number of inputs supported in a batch request is {maximum}",
        ),
    )
    return body, inputs
