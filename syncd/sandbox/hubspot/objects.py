"""HubSpot CRM object endpoints.

List, get, PATCH, and batch read, update and upsert of contacts, companies and deals, with HubSpot's
property validation.
"""

from __future__ import annotations

import bisect
import json
from typing import Any

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.errors import ApiError
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot.deal_writes import apply_other, validate_other
from syncd.sandbox.hubspot.errors import hubspot_error, hubspot_not_found
from syncd.sandbox.hubspot.records import (
    BATCH_MAX,
    EMAIL_RE,
    HISTORY_BATCH_MAX,
    PAGE_MAX,
    batch_inputs,
    batch_response,
    inline_associations,
    int_param,
    not_found_error,
    object_json,
    object_type,
    store,
)
from syncd.sandbox.hubspot.state import HsObject, HubSpotState

# --- list / get -------------------------------------------------------------------------------


def list_objects(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/objects/{objectType}` with the `after` cursor (ascending ids)."""
    otype = object_type(req)
    with_history = bool(req.q_list("propertiesWithHistory"))
    limit = int_param(req, "limit", 10, HISTORY_BATCH_MAX if with_history else PAGE_MAX)
    after_raw = req.q("after") or "0"
    require(after_raw.isdigit(), hubspot_error(400, "after must be a numeric cursor"))
    after = int(after_raw)
    props = req.q_list("properties")
    assoc_kinds = req.q_list("associations")
    objs = store(state, otype)
    if (req.q("archived") or "").lower() == "true":
        # Deleted contacts stay restorable and are listed with `archived=true` ("Retrieve
        # contacts", `archived`: "Whether to return only results that have been archived",
        # Contacts v3 spec; "Archive a contact", https://developers.hubspot.com/docs/
        # api-reference/legacy/crm/objects/contacts/delete-contact). Deals and companies here
        # are never archived.
        objs = state.archived_contacts if otype == "contacts" else {}
        page_ids = sorted(i for i in objs if i >= after)[: limit + 1]
    elif otype == "contacts":
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


def _lookup(
    state: HubSpotState,
    otype: str,
    raw_id: str,
    id_property: str | None,
    archived: bool = False,
) -> HsObject | None:
    """The record an id names: a merged-away contact id answers with the merged record.

    The changelog "Updated merge functionality for contacts and companies"
    (https://developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies):
    "fetching any records using the original IDs will return the new merged record with the
    new ID". With `archived` only deleted (restorable) contacts are found.
    """
    objs = store(state, otype)
    if archived:
        if otype != "contacts" or not raw_id.isdigit():
            return None
        return state.archived_contacts.get(int(raw_id))
    if id_property == "email" and otype == "contacts":
        return state.contact_by_email(raw_id)
    if id_property not in (None, "hs_object_id") or not raw_id.isdigit():
        return None
    if otype == "contacts":
        return state.live_contact(int(raw_id))
    return objs.get(int(raw_id))


def get_object(state: HubSpotState, req: Request) -> Response:
    """`GET /crm/v3/objects/{objectType}/{objectId}` (404 when unknown)."""
    otype = object_type(req)
    archived = (req.q("archived") or "").lower() == "true"
    o = _lookup(state, otype, req.args["objectId"], req.q("idProperty"), archived)
    if o is None:
        raise hubspot_not_found()
    assoc_kinds = req.q_list("associations")
    assoc = inline_associations(state, o.id, assoc_kinds) if assoc_kinds else None
    return Response(200, object_json(o, otype, req.q_list("properties"), assoc))


# --- writes -----------------------------------------------------------------------------------


def validate_properties(state: HubSpotState, props: Any) -> list[dict[str, Any]]:
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


def apply_properties(state: HubSpotState, o: HsObject, props: dict[str, Any]) -> None:
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


def email_conflict(
    state: HubSpotState, o: HsObject | None, props: dict[str, Any]
) -> ApiError | None:
    """HubSpot's 409 when `props` would give `o` (None: a new contact) another's address.

    Email is unique per portal; HubSpot answers CONFLICT "Contact already exists. Existing ID:
    N" ("Create a contact" / "Update a contact", CRM v3 contacts reference). Addresses that
    differ only in case or padding are the same address.
    """
    email = props.get("email")
    if not email:
        return None
    if str(email).strip().lower() in state.gdpr_blocklist:
        # "prevent it from being used in the future" (GDPR delete); the wording is the sandbox's.
        return hubspot_error(
            400, f"{str(email).strip()} was permanently deleted (GDPR) and cannot be used again."
        )
    other = state.contact_by_email(str(email))
    if other is None or (o is not None and other.id == o.id):
        return None
    return hubspot_error(409, f"Contact already exists. Existing ID: {other.id}", "CONFLICT")


def check_contact_properties(
    state: HubSpotState, o: HsObject | None, props: dict[str, Any]
) -> None:
    """Refuse a contact's create (`o` None) or edit as HubSpot does.

    Bad property values come first (400), then an address that is another contact's (409).

    Raises:
        ApiError: The 400 or the 409.
    """
    problems = validate_properties(state, props)
    if problems:
        raise invalid_properties_error(problems)
    conflict = email_conflict(state, o, props)
    if conflict is not None:
        raise conflict


def patch_object(state: HubSpotState, req: Request) -> Response:
    """`PATCH /crm/v3/objects/{contacts|deals|companies}/{id}`: a person's edit.

    Sources: "Update a contact" / "Update" (deals, companies) in the CRM v3 specs
    (HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/CRM/{Contacts,Deals,Companies}):
    `SimplePublicObjectInput` requires `properties`; read-only and unknown properties are
    refused; the record's last-modified date moves (`lastmodifieddate` for contacts,
    `hs_lastmodifieddate` for other objects).
    """
    otype = object_type(req)
    body = req.json_object()
    o = _lookup(state, otype, req.args["objectId"], req.q("idProperty"))
    if o is None:
        raise hubspot_not_found()
    props = body.get("properties")
    require(isinstance(props, dict), hubspot_error(400, "properties is required (an object)"))
    assert isinstance(props, dict)
    if otype != "contacts":
        problems = validate_other(otype, props)
        if problems:
            raise invalid_properties_error(problems)
        apply_other(state, o, props)
        return Response(200, object_json(o, otype, list(props)))
    check_contact_properties(state, o, props)
    apply_properties(state, o, props)
    return Response(200, object_json(o, otype, list(props)))


def batch_read(state: HubSpotState, req: Request) -> Response:
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
    body, inputs = batch_inputs(req, maximum)
    id_property = body.get("idProperty")
    props = body.get("properties") or []
    archived = (req.q("archived") or "").lower() == "true"
    results, missing = [], []
    for inp in inputs:
        raw = str(inp.get("id", ""))
        o = _lookup(state, otype, raw, id_property, archived)
        if o is None:
            missing.append(raw)
        else:
            results.append(object_json(o, otype, props))
    return batch_response(state, results, [not_found_error(otype, missing)] if missing else [])


def batch_update(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/batch/update`: 207 for unknown ids, 400 for bad values."""
    otype = object_type(req)
    require(otype == "contacts", hubspot_error(400, "Only contacts can be updated here"))
    _, inputs = batch_inputs(req, BATCH_MAX)
    ids = [str(i.get("id", "")) for i in inputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    require(not dupes, hubspot_error(400, f"Duplicate IDs found in batch input: {dupes}"))
    problems = [p for i in inputs for p in validate_properties(state, i.get("properties", {}))]
    if problems:
        raise invalid_properties_error(problems)
    results, missing, errors = [], [], []
    for inp in inputs:
        o = _lookup(state, otype, str(inp.get("id", "")), inp.get("idProperty"))
        if o is None:
            missing.append(str(inp.get("id", "")))
            continue
        conflict = email_conflict(state, o, inp.get("properties", {}))
        if conflict is not None:
            errors.append(
                {
                    "status": "error",
                    "category": conflict.body["category"],
                    "message": conflict.body["message"],
                    "context": {"ids": [str(o.id)]},
                    "errors": [],
                    "links": {},
                }
            )
            continue
        apply_properties(state, o, inp.get("properties", {}))
        results.append(object_json(o, otype, list(inp.get("properties", {}))))
    if missing:
        errors.append(not_found_error(otype, missing))
    return batch_response(state, results, errors)


def create_contact(state: HubSpotState, props: dict[str, Any]) -> HsObject:
    """A new contact with the next id (ids only grow, so list cursors stay valid)."""
    cid = state.next_contact_id
    state.next_contact_id += 1
    now = state.clock.write_ms()
    o = HsObject(cid, {"createdate": iso_ms(now), "hs_object_id": str(cid)}, now, now)
    state.contacts[cid] = o
    state.contact_ids.append(cid)
    apply_properties(state, o, props)
    return o


def batch_upsert(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/batch/upsert` by email; results carry `new`."""
    otype = object_type(req)
    require(otype == "contacts", hubspot_error(400, "Only contacts can be upserted here"))
    _, inputs = batch_inputs(req, BATCH_MAX)
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
        elif state.contact_by_email(raw) is None and raw.strip().lower() in state.gdpr_blocklist:
            problems.append(
                {
                    "error": "INVALID_EMAIL",
                    "message": f"{raw.strip()} was permanently deleted (GDPR)",
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
