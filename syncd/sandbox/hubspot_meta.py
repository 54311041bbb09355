"""HubSpot contact property definitions (list, get, create) and v4 association batch reads."""

from __future__ import annotations

import re

from syncd.sandbox import hubspot_props as hp
from syncd.sandbox.errors import hubspot_error, hubspot_not_found
from syncd.sandbox.hubspot_api import (
    ASSOC_BATCH_MAX,
    ASSOC_TYPES,
    OBJECT_TYPES,
    _inputs,
    batch_response,
    object_type,
)
from syncd.sandbox.routing import Request, Response, require
from syncd.sandbox.state import State, iso_ms


def list_properties(state: State, req: Request) -> Response:
    """`GET /crm/v3/properties/contacts`."""
    require(object_type(req) == "contacts", hubspot_not_found("Unknown object type"))
    return Response(200, {"results": list(state.properties.values())})


def get_property(state: State, req: Request) -> Response:
    """`GET /crm/v3/properties/contacts/{propertyName}`."""
    d = state.properties.get(req.args["propertyName"])
    if d is None:
        raise hubspot_not_found(f"Unable to find property {req.args['propertyName']}")
    return Response(200, d)


def create_property(state: State, req: Request) -> Response:
    """`POST /crm/v3/properties/contacts`: 201, or 409 when the name exists."""
    require(object_type(req) == "contacts", hubspot_not_found("Unknown object type"))
    body = req.json_object()
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    require(not missing, hubspot_error(400, f"Missing required fields: {missing}"))
    name = str(body["name"])
    require(
        re.fullmatch(r"[a-z][a-z0-9_]*", name) is not None,
        hubspot_error(400, f"Property name {name} must be lower case letters, digits and _"),
    )
    require(
        body["type"] in hp.PROPERTY_TYPES,
        hubspot_error(400, f"type must be one of {list(hp.PROPERTY_TYPES)}"),
    )
    options = body.get("options") or []
    require(
        body["type"] != "enumeration" or bool(options),
        hubspot_error(400, "options are required for enumeration properties"),
    )
    if name in state.properties:
        raise hubspot_error(
            409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
        )
    d = hp.property_definition(
        name,
        str(body["type"]),
        str(body["fieldType"]),
        str(body["groupName"]),
        False,
        [dict(o) for o in options if isinstance(o, dict)],
        label=str(body["label"]),
        hubspot_defined=False,
        created_at=iso_ms(state.clock.write_ms()),
    )
    state.properties[name] = d
    return Response(201, d)


def update_property(state: State, req: Request) -> Response:
    """`PATCH /crm/v3/properties/contacts/{propertyName}`: the given fields replace the old ones
    (`options` is the whole new option list)."""
    require(object_type(req) == "contacts", hubspot_not_found("Unknown object type"))
    name = req.args["propertyName"]
    d = state.properties.get(name)
    if d is None:
        raise hubspot_not_found(f"Unable to find property {name}")
    body = req.json_object()
    unknown = set(body) - {"label", "description", "groupName", "options", "displayOrder"}
    require(not unknown, hubspot_error(400, f"Unknown fields for a property update: {unknown}"))
    if "options" in body:
        options = body["options"]
        require(
            isinstance(options, list) and all(isinstance(o, dict) for o in options),
            hubspot_error(400, "options must be a list of objects"),
        )
        require(
            d["type"] != "enumeration" or bool(options),
            hubspot_error(400, "options are required for enumeration properties"),
        )
        d["options"] = [dict(o) for o in options]
    for key in ("label", "description", "groupName", "displayOrder"):
        if key in body:
            d[key] = body[key]
    d["updatedAt"] = iso_ms(state.clock.write_ms())
    return Response(200, d)


def associations_batch_read(state: State, req: Request) -> Response:
    """`POST /crm/v4/associations/contacts/{deals|companies}/batch/read` (<= 1,000 inputs)."""
    src = OBJECT_TYPES.get(req.args["fromObjectType"])
    dst = OBJECT_TYPES.get(req.args["toObjectType"])
    if src != "contacts" or dst is None or dst not in ASSOC_TYPES:
        raise hubspot_error(400, "Only contact to deal/company associations exist in the sandbox")
    _, inputs = _inputs(req, ASSOC_BATCH_MAX)
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
