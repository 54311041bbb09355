"""HubSpot contacts coming and going: create, delete (archive), batch archive, GDPR delete, merge.

These are how a person's CRM life reaches the sandbox: a contact made by hand, one deleted (it
stays restorable, so it is listed with `archived=true`), one permanently deleted for GDPR, and
two merged into one. Each handler names the vendor's reference page it follows.
"""

from __future__ import annotations

import bisect
from typing import Any

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot.errors import hubspot_error, hubspot_not_found
from syncd.sandbox.hubspot.objects import (
    check_contact_properties,
    create_contact,
)
from syncd.sandbox.hubspot.records import BATCH_MAX, batch_inputs, object_json
from syncd.sandbox.hubspot.state import HsObject, HubSpotState

# Association type ids a contact create may carry (HUBSPOT_DEFINED, contact → deal/company).
CREATE_ASSOCIATION_TYPES = {4: "deals", 1: "companies", 279: "companies"}


def _emails_of(o: HsObject) -> list[str]:
    """Every address the portal's unique-email index holds for a contact."""
    out = [o.props.get("email") or ""]
    out.extend((o.props.get("hs_additional_emails") or "").split(";"))
    return [e.strip().lower() for e in out if e.strip()]


def _detach(state: HubSpotState, o: HsObject) -> dict[int, int]:
    """Take a contact out of the live set: ids, email index and list memberships.

    Returns:
        List id → membership time of every list the contact was in.
    """
    state.contacts.pop(o.id, None)
    i = bisect.bisect_left(state.contact_ids, o.id)
    if i < len(state.contact_ids) and state.contact_ids[i] == o.id:
        del state.contact_ids[i]
    for email in _emails_of(o):
        if state.email_index.get(email) == o.id:
            del state.email_index[email]
    was_in: dict[int, int] = {}
    now = state.clock.write_ms()
    for lst in state.lists.values():
        ts = lst.members.pop(o.id, None)
        if ts is not None:
            was_in[lst.list_id] = ts
            lst.updated_ms = now
    state.version += 1
    return was_in


def archive_contact(state: HubSpotState, o: HsObject) -> None:
    """Delete a contact the restorable way: it leaves lists and reads, and lists as archived."""
    _detach(state, o)
    o.archived = True
    o.archived_ms = state.clock.write_ms()
    state.archived_contacts[o.id] = o


def _contact_id(raw: Any, field: str) -> int:
    """A contact id sent as the spec's string of digits, else HubSpot's 400."""
    require(
        isinstance(raw, str) and raw.strip().isdigit(),
        hubspot_error(400, f"{field} must be a contact id (a string of digits)"),
    )
    return int(raw)


def create_contact_endpoint(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts` (201); an address already in use is HubSpot's 409.

    Source: "Create a contact",
    the Contacts v3 spec (HubSpot/HubSpot-public-api-spec-collection,
    PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json)
    (`SimplePublicObjectInputForCreate`: `properties`, `associations`); the 409 body is
    HubSpot's CONFLICT with "Contact already exists. Existing ID: N".
    """
    body = req.json_object()
    props = body.get("properties")
    require(isinstance(props, dict), hubspot_error(400, "properties is required (an object)"))
    assert isinstance(props, dict)
    check_contact_properties(state, None, props)
    links = _create_associations(state, body.get("associations"))
    o = create_contact(state, props)
    for kind, target in links:
        index = state.contact_deals if kind == "deals" else state.contact_companies
        index.setdefault(o.id, [])
        if target not in index[o.id]:
            index[o.id].append(target)
    return Response(201, object_json(o, "contacts", list(props)))


def _create_associations(state: HubSpotState, raw: Any) -> list[tuple[str, int]]:
    """`associations: [{to: {id}, types: [{associationCategory, associationTypeId}]}]`."""
    if raw is None:
        return []
    require(isinstance(raw, list), hubspot_error(400, "associations must be a list"))
    out: list[tuple[str, int]] = []
    for a in raw:
        to = a.get("to") if isinstance(a, dict) else None
        types = a.get("types") if isinstance(a, dict) else None
        require(
            isinstance(to, dict) and isinstance(types, list) and bool(types),
            hubspot_error(400, "each association needs `to.id` and `types`"),
        )
        assert isinstance(to, dict) and isinstance(types, list)
        target = _contact_id(str(to.get("id", "")), "associations[].to.id")
        for t in types:
            type_id = t.get("associationTypeId") if isinstance(t, dict) else None
            kind = CREATE_ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
            if kind is None:
                raise hubspot_error(400, f"association type {t} is not a contact→deal/company type")
            objs = state.deals if kind == "deals" else state.companies
            require(target in objs, hubspot_error(400, f"{kind[:-1]} {target} does not exist"))
            out.append((kind, target))
    return out


def delete_contact(state: HubSpotState, req: Request) -> Response:
    """`DELETE /crm/v3/objects/contacts/{contactId}` (204), restorable for 90 days.

    Source: "Archive a contact",
    https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/delete-contact
    ("Deleted contacts can be restored within 90 days of deletion"). An id that is already
    gone answers 204 as well (the call is idempotent).
    """
    raw = req.args["objectId"]
    o = state.contacts.get(int(raw)) if raw.isdigit() else None
    if o is not None:
        archive_contact(state, o)
    return Response(204)


def batch_archive(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/batch/archive` `{inputs: [{id}]}` (<= 100; 204).

    Source: "Archive a batch of contacts",
    https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/delete-contacts
    (`BatchInputSimplePublicObjectId`; ids that do not exist are ignored).
    """
    _, inputs = batch_inputs(req, BATCH_MAX)
    ids = [_contact_id(i.get("id"), "inputs[].id") for i in inputs]
    for cid in ids:
        o = state.contacts.get(cid)
        if o is not None:
            archive_contact(state, o)
    return Response(204)


def gdpr_delete(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/gdpr-delete` `{objectId, idProperty?}` (204).

    Source: "Permanently delete a contact (GDPR-compliant)",
    https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/gdpr/gdpr-delete-contact
    ("If email address is not found, the email address will be added to a blocklist and
    prevent it from being used in the future"). The contact is gone for good: no read, not
    even with `archived=true`, finds it.
    """
    body = req.json_object()
    raw = body.get("objectId")
    require(isinstance(raw, str) and bool(raw.strip()), hubspot_error(400, "objectId is required"))
    assert isinstance(raw, str)
    id_property = body.get("idProperty")
    if id_property == "email":
        o = state.contact_by_email(raw)
        if o is None:
            state.gdpr_blocklist.add(raw.strip().lower())
            return Response(204)
    else:
        require(id_property in (None, "hs_object_id"), hubspot_error(400, "unknown idProperty"))
        cid = _contact_id(raw, "objectId")
        o = state.contacts.get(cid) or state.archived_contacts.get(cid)
        if o is None:
            raise hubspot_not_found(f"Contact {raw} does not exist.")
    state.gdpr_blocklist.update(_emails_of(o))
    if o.id in state.archived_contacts:
        del state.archived_contacts[o.id]
    else:
        _detach(state, o)
    state.contact_deals.pop(o.id, None)
    state.contact_companies.pop(o.id, None)
    return Response(204)


def merge_contacts(state: HubSpotState, req: Request) -> Response:
    """`POST /crm/v3/objects/contacts/merge` `{primaryObjectId, objectIdToMerge}` (200).

    Sources: "Merge two contacts",
    https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/merge-contacts
    (`PublicMergeInput`, both ids strings), and the changelog "Updated merge functionality for
    contacts and companies",
    https://developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies:
    the result is a new record with a new id; both old ids point to it, so reading either
    returns the merged record with the new id; property values are the primary's where it has
    one, values from both are kept; associations of both move to it. `hs_merged_object_ids`
    lists the ids merged into it (";"-separated) and the other record's address is kept in
    `hs_additional_emails`.
    """
    body = req.json_object()
    primary_id = _contact_id(body.get("primaryObjectId"), "primaryObjectId")
    other_id = _contact_id(body.get("objectIdToMerge"), "objectIdToMerge")
    primary, other = state.live_contact(primary_id), state.live_contact(other_id)
    if primary is None or other is None:
        missing = primary_id if primary is None else other_id
        raise hubspot_not_found(f"Contact {missing} does not exist.")
    require(
        primary.id != other.id,
        hubspot_error(400, "A contact cannot be merged with itself."),
    )
    now = state.clock.write_ms()
    new_id = state.next_contact_id
    state.next_contact_id += 1
    props = {**other.props, **primary.props}
    merged_ids = [primary.id, other.id]
    for o in (primary, other):
        merged_ids.extend(
            int(i) for i in (o.props.get("hs_merged_object_ids") or "").split(";") if i
        )
    extra = [
        e for e in _emails_of(other) if e != (primary.props.get("email") or "").strip().lower()
    ]
    extra += [e for e in (primary.props.get("hs_additional_emails") or "").split(";") if e]
    created = min(primary.created_ms, other.created_ms)
    props.update(
        {
            "hs_object_id": str(new_id),
            "createdate": iso_ms(created),
            "lastmodifieddate": iso_ms(now),
            "hs_merged_object_ids": ";".join(str(i) for i in sorted(set(merged_ids))),
        }
    )
    if extra:
        props["hs_additional_emails"] = ";".join(dict.fromkeys(extra))
    else:
        props.pop("hs_additional_emails", None)
    memberships: dict[int, int] = {}
    for o in (primary, other):
        for list_id, ts in _detach(state, o).items():
            memberships[list_id] = min(ts, memberships.get(list_id, ts))
        state.merged_into[o.id] = new_id
    merged = HsObject(new_id, props, created, now)
    state.contacts[new_id] = merged
    state.contact_ids.append(new_id)  # the newest id, so the list stays sorted
    for email in _emails_of(merged):
        state.email_index[email] = new_id
    for list_id, ts in memberships.items():
        state.lists[list_id].members[new_id] = ts
    for index in (state.contact_deals, state.contact_companies):
        both = index.pop(primary.id, []) + index.pop(other.id, [])
        if both:
            index[new_id] = list(dict.fromkeys(both))
    state.version += 1
    return Response(200, object_json(merged, "contacts", None))


__all__ = [
    "archive_contact",
    "batch_archive",
    "create_contact_endpoint",
    "delete_contact",
    "gdpr_delete",
    "merge_contacts",
]
