"""HubSpot CRM objects: contacts, companies and deals (list, get, PATCH, batch read, update,
upsert), contact properties, v4 associations and the daily usage endpoint.

Shapes follow the CRM v3 reference: every property value is a string, dates are ISO 8601 with
`Z`, ids are strings of integers, batch calls return 200 or 207 with per-input errors.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from syncd.sandbox import hubspot_props as hp
from syncd.sandbox.errors import ApiError, hubspot_error, hubspot_not_found
from syncd.sandbox.routing import Request, Response, require
from syncd.sandbox.state import HsObject, State, iso_ms

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
    """The canonical object type in the path (`contacts`, `0-1`, ...), or 404."""
    t = OBJECT_TYPES.get(req.args.get("objectType", "contacts"))
    if t is None:
        raise hubspot_error(400, f"Unable to infer object type from: {req.args.get('objectType')}")
    return t


def store(state: State, otype: str) -> dict[int, HsObject]:
    """The dict holding records of one type."""
    if otype == "contacts":
        return state.contacts
    return state.companies if otype == "companies" else state.deals


def object_json(
    o: HsObject, otype: str, props: list[str] | None, assoc: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A record in the wire shape; requested properties that have no value come back null."""
    names = props if props else DEFAULTS[otype]
    out = {n: o.props.get(n) for n in names}
    for n in ALWAYS[otype]:
        out[n] = o.props.get(n)
    d: dict[str, Any] = {
        "id": str(o.id),
        "properties": out,
        "createdAt": iso_ms(o.created_ms),
        "updatedAt": iso_ms(o.updated_ms),
        "archived": o.archived,
    }
    if assoc:
        d["associations"] = assoc
    return d


def inline_associations(state: State, cid: int, kinds: list[str]) -> dict[str, Any]:
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


def _int_param(req: Request, name: str, default: int, maximum: int) -> int:
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


def _batch_time(state: State) -> dict[str, str]:
    t = iso_ms(state.clock.now_ms())
    return {"startedAt": t, "completedAt": t}


def batch_response(
    state: State, results: list[dict[str, Any]], errors: list[dict[str, Any]]
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


# --- list / get -------------------------------------------------------------------------------


def list_objects(state: State, req: Request) -> Response:
    """`GET /crm/v3/objects/{objectType}` with the `after` cursor (ascending ids)."""
    otype = object_type(req)
    with_history = bool(req.q_list("propertiesWithHistory"))
    limit = _int_param(req, "limit", 10, HISTORY_BATCH_MAX if with_history else PAGE_MAX)
    after_raw = req.q("after") or "0"
    require(after_raw.isdigit(), hubspot_error(400, "after must be a numeric cursor"))
    after = int(after_raw)
    props = req.q_list("properties")
    assoc_kinds = req.q_list("associations")
    if req.q("archived") == "true":
        return Response(200, {"results": []})
    objs = store(state, otype)
    if otype == "contacts":
        ids = state.contact_ids
        start = bisect.bisect_left(ids, after)
        page_ids = ids[start : start + limit + 1]
    else:
        page_ids = sorted(i for i in objs if i >= after)[: limit + 1]
    results = []
    for oid in page_ids[:limit]:
        assoc = inline_associations(state, oid, assoc_kinds) if assoc_kinds else None
        results.append(object_json(objs[oid], otype, props, assoc))
    body: dict[str, Any] = {"results": results}
    if len(page_ids) > limit:
        nxt = str(page_ids[limit])
        body["paging"] = {"next": {"after": nxt, "link": f"/crm/v3/objects/{otype}?after={nxt}"}}
    return Response(200, body)


def _lookup(state: State, otype: str, raw_id: str, id_property: str | None) -> HsObject | None:
    objs = store(state, otype)
    if id_property == "email" and otype == "contacts":
        return state.contact_by_email(raw_id)
    if id_property not in (None, "hs_object_id"):
        return None
    return objs.get(int(raw_id)) if raw_id.isdigit() else None


def get_object(state: State, req: Request) -> Response:
    """`GET /crm/v3/objects/{objectType}/{objectId}` (404 when unknown)."""
    otype = object_type(req)
    o = _lookup(state, otype, req.args["objectId"], req.q("idProperty"))
    if o is None:
        raise hubspot_not_found()
    assoc_kinds = req.q_list("associations")
    assoc = inline_associations(state, o.id, assoc_kinds) if assoc_kinds else None
    return Response(200, object_json(o, otype, req.q_list("properties"), assoc))


# --- writes -----------------------------------------------------------------------------------


def validate_properties(state: State, props: Any) -> list[dict[str, Any]]:
    """Per-property problems (unknown, read-only, bad option or number) in HubSpot's wording."""
    if not isinstance(props, dict):
        return [
            {"name": "properties", "error": "INVALID", "message": "properties must be an object"}
        ]
    problems = []
    for name, value in props.items():
        d = state.properties.get(name)
        msg = err = ""
        if d is None:
            err, msg = "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
        elif d["modificationMetadata"]["readOnlyValue"]:
            err, msg = (
                "READ_ONLY_VALUE",
                f'"{name}" is a read only property; its value cannot be set.',
            )
        elif value not in (None, ""):
            v = str(value)
            opts = [o["value"] for o in d["options"]]
            # Multiple checkboxes take several option values joined by ";".
            chosen = v.split(";") if d.get("fieldType") == "checkbox" else [v]
            bad = [c for c in chosen if c not in opts]
            if d["type"] == "enumeration" and opts and bad:
                err, msg = "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {opts}"
            elif d["type"] == "number":
                try:
                    float(v)
                except ValueError:
                    err, msg = "INVALID_INTEGER", f"{v} is not a valid number"
            elif name == "email" and not EMAIL_RE.match(v.strip()):
                err, msg = "INVALID_EMAIL", f"Email address {v} is invalid"
        if err:
            problems.append(
                {
                    "isValid": False,
                    "message": msg,
                    "error": err,
                    "name": name,
                    "localizedErrorMessage": msg,
                }
            )
    return problems


def invalid_properties_error(problems: list[dict[str, Any]]) -> ApiError:
    """The 400 HubSpot sends when property values fail validation."""
    return hubspot_error(400, f"Property values were not valid: {json.dumps(problems)}")


def apply_properties(state: State, o: HsObject, props: dict[str, Any]) -> None:
    """Write property values (empty string clears) and bump `lastmodifieddate`."""
    for name, value in props.items():
        if name == "email":
            old = o.props.get("email")
            if old is not None:
                state.email_index.pop(old.strip().lower(), None)
            if value not in (None, ""):
                state.email_index[str(value).strip().lower()] = o.id
        if value is None or value == "":
            o.props.pop(name, None)
        else:
            o.props[name] = str(value).lower() if isinstance(value, bool) else str(value)
        o.num_cache.pop(name, None)
    o.updated_ms = state.clock.write_ms()
    o.props["lastmodifieddate"] = iso_ms(o.updated_ms)
    o.num_cache.pop("lastmodifieddate", None)
    state.version += 1


def _email_taken(state: State, o: HsObject | None, props: dict[str, Any]) -> bool:
    email = props.get("email")
    if not email:
        return False
    other = state.contact_by_email(str(email))
    return other is not None and (o is None or other.id != o.id)


def patch_object(state: State, req: Request) -> Response:
    """`PATCH /crm/v3/objects/contacts/{id}` — how "a person's edit" reaches the sandbox too."""
    otype = object_type(req)
    require(otype == "contacts", hubspot_error(405, "Only contacts can be updated here"))
    body = req.json_object()
    o = _lookup(state, otype, req.args["objectId"], req.q("idProperty"))
    if o is None:
        raise hubspot_not_found()
    props = body.get("properties", {})
    problems = validate_properties(state, props)
    if problems:
        raise invalid_properties_error(problems)
    if _email_taken(state, o, props):
        raise hubspot_error(409, "Contact already exists.", "CONFLICT")
    apply_properties(state, o, props)
    return Response(200, object_json(o, otype, list(props)))


def _inputs(req: Request, maximum: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = req.json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise hubspot_error(400, "inputs is required and must be a list of objects")
    require(
        len(inputs) <= maximum,
        hubspot_error(
            400,
            f"The maximum number of inputs supported in a batch request is {maximum}",
        ),
    )
    return body, inputs


def batch_read(state: State, req: Request) -> Response:
    """`POST /crm/v3/objects/{objectType}/batch/read` (<= 100; <= 50 with history)."""
    otype = object_type(req)
    history = bool(req.json_object().get("propertiesWithHistory"))
    maximum = HISTORY_BATCH_MAX if history else BATCH_MAX
    if history and len(req.json_object().get("inputs") or []) > maximum:
        raise hubspot_error(
            400,
            "The maximum number of inputs supported in a batch request for property "
            f"histories is {maximum}",
        )
    body, inputs = _inputs(req, maximum)
    id_property = body.get("idProperty")
    props = body.get("properties") or []
    results, missing = [], []
    for inp in inputs:
        raw = str(inp.get("id", ""))
        o = _lookup(state, otype, raw, id_property)
        if o is None:
            missing.append(raw)
        else:
            results.append(object_json(o, otype, props))
    return batch_response(state, results, [not_found_error(otype, missing)] if missing else [])


def batch_update(state: State, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/batch/update`: 207 for unknown ids, 400 for bad values."""
    otype = object_type(req)
    require(otype == "contacts", hubspot_error(400, "Only contacts can be updated here"))
    _, inputs = _inputs(req, BATCH_MAX)
    ids = [str(i.get("id", "")) for i in inputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    require(not dupes, hubspot_error(400, f"Duplicate IDs found in batch input: {dupes}"))
    problems = [p for i in inputs for p in validate_properties(state, i.get("properties", {}))]
    if problems:
        raise invalid_properties_error(problems)
    results, missing = [], []
    for inp in inputs:
        o = _lookup(state, otype, str(inp.get("id", "")), inp.get("idProperty"))
        if o is None:
            missing.append(str(inp.get("id", "")))
            continue
        apply_properties(state, o, inp.get("properties", {}))
        results.append(object_json(o, otype, list(inp.get("properties", {}))))
    return batch_response(state, results, [not_found_error(otype, missing)] if missing else [])


def create_contact(state: State, props: dict[str, Any]) -> HsObject:
    """A new contact with the next id (ids only grow, so list cursors stay valid)."""
    cid = state.next_contact_id
    state.next_contact_id += 1
    now = state.clock.write_ms()
    o = HsObject(cid, {"createdate": iso_ms(now), "hs_object_id": str(cid)}, now, now)
    state.contacts[cid] = o
    state.contact_ids.append(cid)
    apply_properties(state, o, props)
    return o


def batch_upsert(state: State, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/batch/upsert` by email; results carry `new`."""
    otype = object_type(req)
    require(otype == "contacts", hubspot_error(400, "Only contacts can be upserted here"))
    _, inputs = _inputs(req, BATCH_MAX)
    results, errors = [], []
    for inp in inputs:
        raw = str(inp.get("id", ""))
        props = dict(inp.get("properties") or {})
        id_prop = inp.get("idProperty", "email")
        if id_prop != "email":
            raise hubspot_error(400, f"idProperty {id_prop} is not a unique property")
        problems = validate_properties(state, props)
        if not EMAIL_RE.match(raw.strip()):
            problems.append(
                {
                    "error": "INVALID_EMAIL",
                    "message": f"Email address {raw} is invalid",
                    "name": "email",
                }
            )
        if problems:
            errors.append(
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"Property values were not valid: {json.dumps(problems)}",
                    "context": {"ids": [raw]},
                    "errors": [],
                    "links": {},
                }
            )
            continue
        o = state.contact_by_email(raw)
        if o is None:
            props.setdefault("email", raw.strip())
            o = create_contact(state, props)
            new = True
        else:
            props.pop("email", None)
            apply_properties(state, o, props)
            new = False
        results.append({**object_json(o, otype, list(props)), "new": new})
    return batch_response(state, results, errors)
