"""HubSpot contact property definitions: list, get, create and update (`/crm/v3/properties`)."""

from __future__ import annotations

import re

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot import property_catalog as hp
from syncd.sandbox.hubspot.errors import hubspot_error, hubspot_not_found
from syncd.sandbox.hubspot.records import object_type
from syncd.sandbox.hubspot.state import HubSpotState


def list_properties(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/properties/contacts`."""
    require(object_type(req) == "contacts", hubspot_not_found("Unknown object type"))
    return Response(200, {"results": list(state.properties.values())})


def get_property(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/properties/contacts/{propertyName}`."""
    d = state.properties.get(req.args["propertyName"])
    if d is None:
        raise hubspot_not_found(f"Unable to find property {req.args['propertyName']}")
    return Response(200, d)


def create_property(state: HubSpotState, req: Request) -> Response:
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


def update_property(state: HubSpotState, req: Request) -> Response:
    """`PATCH /crm/v3/properties/contacts/{propertyName}`.

    The given fields replace the old ones (`options` is the whole new option list).
    """
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
