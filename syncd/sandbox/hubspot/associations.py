"""HubSpot v4 associations: batch reads of a contact's deals or companies."""

from __future__ import annotations

from syncd.sandbox.core.routing import Request, Response
from syncd.sandbox.hubspot.errors import hubspot_error
from syncd.sandbox.hubspot.records import (
    ASSOC_BATCH_MAX,
    ASSOC_TYPES,
    OBJECT_TYPES,
    batch_inputs,
    batch_response,
)
from syncd.sandbox.hubspot.state import HubSpotState


def associations_batch_read(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v4/associations/contacts/{deals|companies}/batch/read` (<= 1,000 inputs)."""
    src = OBJECT_TYPES.get(req.args["fromObjectType"])
    dst = OBJECT_TYPES.get(req.args["toObjectType"])
    if src != "contacts" or dst is None or dst not in ASSOC_TYPES:
        raise hubspot_error(400, "Only contact to deal/company associations exist in the sandbox")
    _, inputs = batch_inputs(req, ASSOC_BATCH_MAX)
    index = state.contact_deals if dst == "deals" else state.contact_companies
    results, errors = [], []
    for inp in inputs:
        raw = str(inp.get("id", ""))
        ids = index.get(int(raw)) if raw.isdigit() else None
        if not ids:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {dst.rstrip('s')} is associated with contact {raw}.",
                    "context": {"fromObjectId": [raw]},
                    "errors": [],
                    "links": {},
                }
            )
            continue
        to = [
            {
                "toObjectId": i,
                "associationTypes": [
                    {"category": c, "typeId": t, "label": label}
                    for t, c, label, _ in ASSOC_TYPES[dst]
                ],
            }
            for i in ids
        ]
        results.append({"from": {"id": raw}, "to": to})
    return batch_response(state, results, errors)
