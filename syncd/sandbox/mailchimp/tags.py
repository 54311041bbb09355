"""Mailchimp tags and static segments (the same thing), and a member's tags.

A tag is a static segment: `POST /members/{hash}/tags` creates the tag when first set active,
and `POST /segments/{id}` adds and removes up to 500 addresses per array.

Archived members are not part of tag listings or of batch add/remove results: the spec's
`status` enum for segment members and for `members_added` / `members_removed` is
`subscribed, unsubscribed, cleaned, pending, transactional` ("List members in segment" and
"Batch add or remove members from static segment",
https://mailchimp.com/developer/marketing/api/list-segment-members/). Segment listings leave
out cleaned, unsubscribed and transactional members unless `include_cleaned`,
`include_unsubscribed` or `include_transactional` is true (same page, query parameters).
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.clock import iso_s
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.mailchimp.errors import mailchimp_invalid, mailchimp_not_found
from syncd.sandbox.mailchimp.shapes import check_list, get_member, int_query, member_json, respond
from syncd.sandbox.mailchimp.state import MailchimpState, McSegment, subscriber_hash

SEGMENT_BATCH_MAX = 500
TAG_NAME_MAX = 100


def segment_json(state: MailchimpState, seg: McSegment) -> dict[str, Any]:
    """A segment in the wire shape."""
    return {
        "id": seg.id,
        "name": seg.name,
        "member_count": state.segment_member_count(seg.id),
        "type": seg.type,
        "created_at": iso_s(seg.created_ms),
        "updated_at": iso_s(seg.updated_ms),
        "options": {},
        "list_id": state.audience_id,
        "_links": [],
    }


def _segment(state: MailchimpState, req: Request) -> McSegment:
    check_list(state, req)
    raw = req.args["segment_id"]
    seg = state.segments.get(int(raw)) if raw.isdigit() else None
    if seg is None:
        raise mailchimp_not_found()
    return seg


def list_segments(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/segments` (`type`, `count` <= 1000, `offset`)."""
    check_list(state, req)
    count, offset = int_query(req, "count", 10, 1000), int_query(req, "offset", 0)
    kind = req.q("type")
    segs = [s for s in state.segments.values() if kind is None or s.type == kind]
    return respond(
        req,
        {
            "segments": [segment_json(state, s) for s in segs[offset : offset + count]],
            "list_id": state.audience_id,
            "total_items": len(segs),
            "_links": [],
        },
    )


def _new_segment(state: MailchimpState, name: str) -> McSegment:
    now = state.clock.write_ms()
    seg = McSegment(state.next_segment_id, name, "static", now, now)
    state.next_segment_id += 1
    state.segments[seg.id] = seg
    return seg


def _emails(raw: Any, field: str) -> list[str]:
    require(
        isinstance(raw, list) and all(isinstance(e, str) for e in raw),
        mailchimp_invalid(f"{field} must be an array of email addresses"),
    )
    return list(raw)


def create_segment(state: MailchimpState, req: Request) -> Response:
    """`POST /lists/{list_id}/segments` with `static_segment` (a tag); names are unique."""
    check_list(state, req)
    body = req.json_object()
    name = body.get("name")
    require(
        isinstance(name, str) and 0 < len(name.strip()) <= TAG_NAME_MAX,
        mailchimp_invalid(
            "The resource submitted could not be validated.",
            [{"field": "name", "message": "This value should not be blank."}],
        ),
    )
    require(
        "static_segment" in body,
        mailchimp_invalid("The sandbox creates static segments only; send static_segment."),
    )
    require(
        state.segment_by_name(name) is None,  # type: ignore[arg-type]
        mailchimp_invalid("Sorry, that tag already exists."),
    )
    emails = _emails(body["static_segment"], "static_segment")
    seg = _new_segment(state, name.strip())  # type: ignore[union-attr]
    now = state.clock.now_ms()
    for e in emails:
        m = state.members.get(subscriber_hash(e))
        if m is not None:
            m.tags[seg.id] = now
    return Response(200, segment_json(state, seg))


def get_segment(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/segments/{segment_id}`."""
    return respond(req, segment_json(state, _segment(state, req)))


def delete_segment(state: MailchimpState, req: Request) -> Response:
    """`DELETE /lists/{list_id}/segments/{segment_id}` (204); untags every member.

    Source: "Delete segment",
    https://mailchimp.com/developer/marketing/api/list-segments/ (a tag is a
    static segment); afterwards every call on the id answers 404.
    """
    seg = _segment(state, req)
    for m in state.members.values():
        m.tags.pop(seg.id, None)
    del state.segments[seg.id]
    return Response(204)


def batch_segment(state: MailchimpState, req: Request) -> Response:
    """`POST /lists/{list_id}/segments/{segment_id}`: add/remove up to 500 addresses each."""
    seg = _segment(state, req)
    body = req.json_object()
    add = _emails(body.get("members_to_add", []), "members_to_add")
    remove = _emails(body.get("members_to_remove", []), "members_to_remove")
    if len(add) > SEGMENT_BATCH_MAX or len(remove) > SEGMENT_BATCH_MAX:
        raise mailchimp_invalid(
            "Maximum allowed member items exceeded, please provide at most "
            f"{SEGMENT_BATCH_MAX} items in members_to_add field or members_to_remove field"
        )
    now = state.clock.now_ms()
    added, removed, missing = [], [], []
    for e in add:
        h = subscriber_hash(e)
        m = state.members.get(h)
        if m is None or m.status == "archived":  # the sandbox's reading: not on the list
            missing.append(e)
        elif seg.id not in m.tags:
            m.tags[seg.id] = now
            added.append(member_json(state, h, m))
    for e in remove:
        h = subscriber_hash(e)
        m = state.members.get(h)
        if m is None or m.status == "archived":
            missing.append(e)
        elif seg.id in m.tags:
            del m.tags[seg.id]
            removed.append(member_json(state, h, m))
    if added or removed:
        seg.updated_ms = now
    errors = (
        [{"email_addresses": missing, "error": "Email addresses do not exist in the list"}]
        if missing
        else []
    )
    return Response(
        200,
        {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(missing),
            "_links": [],
        },
    )


def segment_members(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/segments/{segment_id}/members`."""
    seg = _segment(state, req)
    count, offset = int_query(req, "count", 10, 1000), int_query(req, "offset", 0)
    shown = {"subscribed", "pending"}
    for status, flag in (
        ("cleaned", "include_cleaned"),
        ("unsubscribed", "include_unsubscribed"),
        ("transactional", "include_transactional"),
    ):
        if (req.q(flag) or "false").lower() == "true":
            shown.add(status)
    rows = [(h, m) for h, m in state.members.items() if seg.id in m.tags and m.status in shown]
    return respond(
        req,
        {
            "members": [member_json(state, h, m) for h, m in rows[offset : offset + count]],
            "total_items": len(rows),
            "_links": [],
        },
    )


def tag_search(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/tag-search?name=` (prefix match)."""
    check_list(state, req)
    prefix = (req.q("name") or "").lower()
    tags = [
        {"id": s.id, "name": s.name}
        for s in state.segments.values()
        if s.type == "static" and s.name.lower().startswith(prefix)
    ]
    return respond(req, {"tags": tags, "total_items": len(tags)})


def member_tags(state: MailchimpState, req: Request) -> Response:
    """`GET .../members/{hash}/tags`."""
    _, m = get_member(state, req)
    count, offset = int_query(req, "count", 10, 1000), int_query(req, "offset", 0)
    tags = [
        {"id": sid, "name": state.segments[sid].name, "date_added": iso_s(t)}
        for sid, t in m.tags.items()
        if sid in state.segments
    ]
    return respond(
        req, {"tags": tags[offset : offset + count], "total_items": len(tags), "_links": []}
    )


def post_member_tags(state: MailchimpState, req: Request) -> Response:
    """`POST .../members/{hash}/tags`: 204; an unknown tag set active is created."""
    _, m = get_member(state, req)
    body = req.json_object()
    tags = body.get("tags")
    require(
        isinstance(tags, list),
        mailchimp_invalid(
            "The resource submitted could not be validated.",
            [{"field": "tags", "message": "Schema describes array, null found instead"}],
        ),
    )
    for t in tags:  # type: ignore[union-attr]
        require(
            isinstance(t, dict)
            and isinstance(t.get("name"), str)
            and bool(t["name"].strip())
            and t.get("status") in ("active", "inactive"),
            mailchimp_invalid("Each tag needs a name and a status of active or inactive."),
        )
    now = state.clock.now_ms()
    for t in tags:  # type: ignore[union-attr]
        name = t["name"].strip()[:TAG_NAME_MAX]
        seg = state.segment_by_name(name)
        if t["status"] == "active":
            seg = seg or _new_segment(state, name)
            m.tags.setdefault(seg.id, now)
        elif seg is not None:
            m.tags.pop(seg.id, None)
    return Response(204)
