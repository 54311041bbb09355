"""HubSpot v4 associations: batch reads of a contact's deals or companies, paged per input.

Source: "Retrieve associations" (`POST /crm/v4/associations/{fromObjectType}/{toObjectType}/
batch/read`) and its schemas in HubSpot's public spec collection
(HubSpot/HubSpot-public-api-spec-collection,
PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json:
`PublicAssociationMultiWithLabel`, `MultiAssociatedObjectWithLabel`,
`AssociationSpecWithLabel`): each input may carry `after`
("a paging cursor token"), each result carries `paging.next.after` only when more pages follow;
`toObjectId` is a string; `label` is a string and left out when the type has none; at most
1,000 inputs (changelog "bug fix batch read limit for HubSpot associations API").

Both directions are served: contact → deals/companies, and deals/companies → contacts (type ids
3 `deal_to_contact`, 2 Primary and 280 `company_to_contact_unlabeled`, HubSpot's "Associations
v4" type-id table, https://developers.hubspot.com/docs/guides/api/crm/associations/associations-v4).
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.limits import Limits
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot.errors import hubspot_error
from syncd.sandbox.hubspot.records import (
    ASSOC_BATCH_MAX,
    ASSOC_TYPES,
    OBJECT_TYPES,
    batch_inputs,
    batch_response,
)
from syncd.sandbox.hubspot.state import HubSpotState

# Object → contact association types (the reverse of records.ASSOC_TYPES).
TO_CONTACT_TYPES: dict[str, list[tuple[int, str, str | None, str]]] = {
    "companies": [
        (2, "HUBSPOT_DEFINED", "Primary", "company_to_contact"),
        (280, "HUBSPOT_DEFINED", None, "company_to_contact_unlabeled"),
    ],
    "deals": [(3, "HUBSPOT_DEFINED", None, "deal_to_contact")],
}


def _types(src: str, dst: str) -> list[dict[str, Any]]:
    table = ASSOC_TYPES[dst] if src == "contacts" else TO_CONTACT_TYPES[src]
    out = []
    for type_id, category, label, _ in table:
        spec: dict[str, Any] = {"category": category, "typeId": type_id}
        if label is not None:
            spec["label"] = label
        out.append(spec)
    return out


def _no_associations(src: str, dst: str, raw: str) -> dict[str, Any]:
    """The 207 error entry for a contact without any associations (or unknown).

    `subCategory` is left out: the spec types it as an object whose fields it does not name.
    """
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"No {dst.rstrip('s')} is associated with {src.rstrip('s')} {raw}.",
        "context": {"fromObjectId": [raw]},
        "errors": [],
        "links": {},
    }


def associations_batch_read(state: HubSpotState, req: Request, limits: Limits) -> Response:
    """`POST /crm/v4/associations/{from}/{to}/batch/read` (<= 1,000 inputs).

    Targets come in ascending id order; `after` is the last id of the previous page, as a
    string token.
    """
    src = OBJECT_TYPES.get(req.args["fromObjectType"])
    dst = OBJECT_TYPES.get(req.args["toObjectType"])
    pair_ok = (src == "contacts" and dst in ASSOC_TYPES) or (
        dst == "contacts" and src in TO_CONTACT_TYPES
    )
    if src is None or dst is None or not pair_ok:
        raise hubspot_error(400, "Only contact ↔ deal/company associations exist in the sandbox")
    _, inputs = batch_inputs(req, ASSOC_BATCH_MAX)
    if src == "contacts":
        index = state.contact_deals if dst == "deals" else state.contact_companies
    else:
        forward = state.contact_deals if src == "deals" else state.contact_companies
        index = {}
        for cid, targets in forward.items():
            if cid in state.contacts:
                for t in targets:
                    index.setdefault(t, []).append(cid)
    page_size = max(1, limits.hubspot_assoc_page)
    types = _types(src, dst)
    results, errors = [], []
    for inp in inputs:
        raw, after = inp.get("id"), inp.get("after")
        require(
            isinstance(raw, str) and (after is None or isinstance(after, str)),
            hubspot_error(400, "inputs[].id and inputs[].after must be strings"),
        )
        assert isinstance(raw, str)
        require(
            after is None or after.isdigit(),
            hubspot_error(400, f"after {after!r} is not a cursor this API returned"),
        )
        ids: list[int] = []
        if raw.isdigit() and src == "contacts":
            contact = state.live_contact(int(raw))
            ids = sorted(index.get(contact.id, [])) if contact is not None else []
        elif raw.isdigit():
            ids = sorted(index.get(int(raw), []))
        if not ids:
            errors.append(_no_associations(src, dst, raw))
            continue
        rest = [i for i in ids if after is None or i > int(after)]
        page = rest[:page_size]
        result: dict[str, Any] = {
            "from": {"id": raw},
            "to": [{"toObjectId": str(i), "associationTypes": types} for i in page],
        }
        if len(rest) > page_size:
            result["paging"] = {"next": {"after": str(page[-1])}}
        results.append(result)
    return batch_response(state, results, errors)
