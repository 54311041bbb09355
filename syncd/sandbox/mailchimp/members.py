"""Mailchimp audience members.

List with filters and paging, get, PUT (upsert), PATCH (also of the address itself) and batch
subscribe `POST /lists/{list_id}`. Archive and permanent delete are in `lifecycle`.

Compliance is enforced as Mailchimp does: an unsubscribed or cleaned address (also when it was
archived since) cannot be set to `subscribed` through the API.
"""

from __future__ import annotations

import re
from typing import Any

from syncd.sandbox.core.errors import ApiError
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.mailchimp.errors import mailchimp_error, mailchimp_invalid
from syncd.sandbox.mailchimp.shapes import (
    check_list,
    get_member,
    int_query,
    member_json,
    member_key,
    respond,
    time_query,
)
from syncd.sandbox.mailchimp.state import MailchimpState, McMember, subscriber_hash

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
SETTABLE = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
PAGE_MAX = 1000
BATCH_MAX = 500
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def list_members(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/members` with status, changed-window, sort and paging filters."""
    check_list(state, req)
    count = int_query(req, "count", 10, PAGE_MAX)
    offset = int_query(req, "offset", 0)
    status = req.q("status")
    require(status is None or status in STATUSES, mailchimp_invalid(f"Invalid status {status}"))
    since, before = time_query(req, "since_last_changed"), time_query(req, "before_last_changed")
    sort_field, sort_dir = req.q("sort_field"), (req.q("sort_dir") or "ASC").upper()
    sort_attrs = {
        "timestamp_opt": "opt_ms",
        "timestamp_signup": "signup_ms",
        "last_changed": "last_changed_ms",
    }
    require(
        sort_field is None or sort_field in sort_attrs,
        mailchimp_invalid(f"sort_field must be one of {list(sort_attrs)}"),
    )
    require(sort_dir in ("ASC", "DESC"), mailchimp_invalid("sort_dir must be ASC or DESC"))
    key = (status, since, before, sort_field, sort_dir, state.members_version)
    hashes = state.members_cache.get(key)
    if hashes is None:  # paging re-reads one query many times: filter and sort once
        rows = [
            (h, m)
            for h, m in state.members.items()
            if (status is None or m.status == status)
            and (since is None or m.last_changed_ms >= since)
            and (before is None or m.last_changed_ms < before)
        ]
        if sort_field:
            attr = sort_attrs[sort_field]
            rows.sort(key=lambda r: getattr(r[1], attr), reverse=sort_dir == "DESC")
        hashes = [h for h, _ in rows]
        if len(state.members_cache) > 64:
            state.members_cache.clear()
        state.members_cache[key] = hashes
    page = [(h, state.members[h]) for h in hashes[offset : offset + count]]
    return respond(
        req,
        {
            "members": [member_json(state, h, m) for h, m in page],
            "list_id": state.audience_id,
            "total_items": len(hashes),
            "_links": [],
        },
    )


def read_member(state: MailchimpState, req: Request) -> Response:
    """`GET /lists/{list_id}/members/{subscriber_hash}`."""
    h, m = get_member(state, req)
    return respond(req, member_json(state, h, m))


def compliance_error(email: str) -> ApiError:
    """Mailchimp's refusal to subscribe an address that unsubscribed or bounced."""
    return mailchimp_error(
        400,
        "Member In Compliance State",
        f"{email} is already a list member in compliance state due to unsubscribe, bounce, "
        "or compliance review.",
    )


def check_status_change(m: McMember, new: str) -> None:
    """Raise the compliance 400 for a forbidden status change."""
    past = m.prior_status if m.status == "archived" else m.status
    if new == "subscribed" and past in ("unsubscribed", "cleaned"):
        raise compliance_error(m.email)
    if m.status == "cleaned" and new not in ("cleaned",):
        raise compliance_error(m.email)


def apply_fields(
    state: MailchimpState,
    m: McMember,
    body: dict[str, Any],
    status: str | None,
    *,
    by_person: bool = False,
) -> bool:
    """Apply writable fields; bump `last_changed` when anything changed. True if changed.

    `by_person` is the person acting themselves (a signup form, a confirmed opt-in): the
    compliance rule binds API callers only, so a person may re-subscribe.
    """
    changed = False
    if status is not None and status != m.status:
        require(
            status in SETTABLE,
            mailchimp_invalid(
                f"Invalid status {status}",
                [{"field": "status", "message": "Value is not one of the allowed values"}],
            ),
        )
        if not by_person:
            check_status_change(m, status)
        m.prior_status = None
        m.status = status
        if status == "subscribed":
            m.opt_ms = state.clock.now_ms()
        changed = True
    merge = body.get("merge_fields")
    if merge is not None:
        require(isinstance(merge, dict), mailchimp_invalid("merge_fields must be an object"))
        for k, v in merge.items():
            if m.merge_fields.get(k) != v:
                m.merge_fields[k] = v
                changed = True
    for key, attr in (("language", "language"), ("vip", "vip")):
        if key in body and getattr(m, attr) != body[key]:
            setattr(m, attr, body[key])
            changed = True
    if changed:
        m.last_changed_ms = state.clock.write_ms()
        state.members_version += 1
    return changed


def new_member(state: MailchimpState, email: str, status: str, body: dict[str, Any]) -> McMember:
    """A member created through the API (status already validated)."""
    now = state.clock.write_ms()
    h = subscriber_hash(email)
    m = McMember(
        email=email.strip(),
        status=status,
        merge_fields={"FNAME": "", "LNAME": "", "ADDRESS": "", "PHONE": ""},
        avg_open_rate=0.0,
        avg_click_rate=0.0,
        member_rating=2,
        country_code="",
        timezone="",
        region="",
        language=str(body.get("language", "")),
        signup_ms=now,
        opt_ms=now,
        last_changed_ms=now,
        unique_email_id=h[:10],
        contact_id=h,
        web_id=int(h[:7], 16),
        source="API - Generic",
    )
    m.merge_fields.update(body.get("merge_fields") or {})
    m.vip = bool(body.get("vip", False))
    state.members[h] = m
    state.members_version += 1
    return m


def put_member(state: MailchimpState, req: Request) -> Response:
    """`PUT .../members/{hash}`: update, or create with `status_if_new`; archived come back."""
    check_list(state, req)
    body = req.json_object()
    h = member_key(req.args["subscriber_hash"])
    email = body.get("email_address")
    if not isinstance(email, str) or not email:
        raise mailchimp_invalid(
            "The resource submitted could not be validated.",
            [{"field": "email_address", "message": "This value should not be blank."}],
        )
    require(
        subscriber_hash(email) == h,
        mailchimp_invalid("The subscriber hash in the path does not match the email address."),
    )
    m = state.members.get(h)
    status = body.get("status")
    if m is None or m.status == "archived":
        new_status = status or body.get("status_if_new")
        require(
            new_status in SETTABLE,
            mailchimp_invalid(
                "The resource submitted could not be validated.",
                [{"field": "status_if_new", "message": "Value is not one of the allowed values"}],
            ),
        )
        if m is None:
            require(bool(EMAIL_RE.match(email.strip())), fake_email(email))
            check_not_forgotten(state, req, email)
            m = new_member(state, email, str(new_status), body)
            return respond(req, member_json(state, h, m))
        status = new_status
    apply_fields(state, m, body, status, by_person=is_person(req))
    return respond(req, member_json(state, h, m))


def patch_member(state: MailchimpState, req: Request) -> Response:
    """`PATCH .../members/{hash}`: how a person's edit reaches Mailchimp in tests too.

    A new `email_address` changes the member's address ("Update list member",
    `email_address`, https://mailchimp.com/developer/marketing/api/list-members/):
    the member's id becomes the hash of the new address (the id is "The MD5 hash of the
    lowercase version of the list member's email address"), its `contact_id`, status and tags
    stay; an address another member has is refused.
    """
    h, m = get_member(state, req)
    body = req.json_object()
    status = body.get("status")
    if status is None and m.status == "archived":
        raise mailchimp_invalid("Archived members need a status to be brought back.")
    new_email = body.get("email_address")
    if new_email is not None:
        h = change_email(state, h, m, new_email)
    apply_fields(state, m, body, status, by_person=is_person(req))
    return respond(req, member_json(state, h, m))


def change_email(state: MailchimpState, h: str, m: McMember, new_email: Any) -> str:
    """Move a member to a new address; returns its new subscriber hash."""
    require(
        isinstance(new_email, str) and bool(EMAIL_RE.match(new_email.strip())),
        fake_email(str(new_email)),
    )
    new_h = subscriber_hash(new_email)
    if new_h == h:
        m.email = new_email.strip()  # a change of case only: same member, same id
        return h
    if new_h in state.members:
        raise mailchimp_error(
            400, "Member Exists", f"{new_email.strip()} is already a list member."
        )
    check_not_forgotten(state, None, new_email)
    del state.members[h]
    m.email = new_email.strip()
    state.members[new_h] = m
    m.last_changed_ms = state.clock.write_ms()
    state.members_version += 1
    return new_h


def is_person(req: Request) -> bool:
    """Whether the request stands for the member acting themselves (`X-Sandbox-Actor: person`)."""
    return req.headers.get("x-sandbox-actor") == "person"


def check_not_forgotten(state: MailchimpState, req: Request | None, email: str) -> None:
    """Mailchimp's 400 for an address that was permanently deleted.

    Only the person may sign up again themselves: a request marked `X-Sandbox-Actor: person`
    stands for the audience's signup form.
    """
    if email.strip().lower() in state.forgotten and not (req is not None and is_person(req)):
        raise mailchimp_error(
            400,
            "Forgotten Email Not Subscribed",
            f"{email.strip()} was permanently deleted and cannot be re-imported. The contact "
            "must re-subscribe to get back on the list.",
        )


def fake_email(email: str) -> ApiError:
    """Mailchimp's 400 for an address that does not look real."""
    return mailchimp_error(
        400,
        "Invalid Resource",
        f"{email} looks fake or invalid, please enter a real email address.",
    )


def batch_subscribe(state: MailchimpState, req: Request) -> Response:
    """`POST /lists/{list_id}`: up to 500 members; failures go to `errors[]` with HTTP 200."""
    check_list(state, req)
    body = req.json_object()
    members = body.get("members")
    if not isinstance(members, list):
        raise mailchimp_invalid(
            "The resource submitted could not be validated.",
            [{"field": "members", "message": "Schema describes array, object found instead"}],
        )
    if len(members) > BATCH_MAX:
        raise mailchimp_invalid(
            f"You may only subscribe or update up to {BATCH_MAX} members per batch request."
        )
    update = bool(body.get("update_existing", False))
    created, updated, errors = [], [], []
    for item in members:
        email = str(item.get("email_address", "")) if isinstance(item, dict) else ""
        try:
            require(bool(EMAIL_RE.match(email.strip())), fake_email(email))
            h = subscriber_hash(email)
            m = state.members.get(h)
            status = item.get("status")
            if m is None:
                new_status = status or item.get("status_if_new")
                require(new_status in SETTABLE, mailchimp_invalid("Invalid status"))
                check_not_forgotten(state, req, email)
                created.append(member_json(state, h, new_member(state, email, new_status, item)))
                continue
            if not update:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list "
                        "member, do you want to update? please provide update_existing:"
                        "true in the request body",
                        "error_code": "ERROR_CONTACT_EXISTS",
                        "field": "",
                        "field_message": "",
                    }
                )
                continue
            apply_fields(state, m, item, status)
            updated.append(member_json(state, h, m))
        except ApiError as exc:
            errors.append(
                {
                    "email_address": email,
                    "error": str(exc.body.get("detail")),
                    "error_code": "ERROR_GENERIC",
                    "field": "",
                    "field_message": "",
                }
            )
    return Response(
        200,
        {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
            "_links": [],
        },
    )
