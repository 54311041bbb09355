"""What every Mailchimp handler shares.

The audience and member lookups, the member's wire shape, `fields` / `exclude_fields` projection,
and query-parameter parsing.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from syncd.sandbox.core.clock import iso_s, parse_time_ms
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.mailchimp.errors import mailchimp_invalid, mailchimp_not_found
from syncd.sandbox.mailchimp.state import MailchimpState, McMember, subscriber_hash


def check_list(state: MailchimpState, req: Request) -> None:
    """404 unless the path names the sandbox's one audience."""
    if req.args.get("list_id") != state.audience_id:
        raise mailchimp_not_found()


def member_key(raw: str) -> str:
    """A path's subscriber hash; an email address (or its url-encoding) is hashed."""
    v = urllib.parse.unquote(raw)
    return subscriber_hash(v) if "@" in v else v.lower()


def resolve_member(state: MailchimpState, raw: str) -> str:
    """The subscriber hash a path names: a hash, an address, or the member's `contact_id`.

    "The MD5 hash of the lowercase version of the list member's email address. This endpoint
    also accepts a list member's email address or contact_id." (path parameter
    `subscriber_hash`, "Get member info",
    https://mailchimp.com/developer/marketing/api/list-members/).
    """
    h = member_key(raw)
    if h in state.members:
        return h
    return state.by_contact_id(urllib.parse.unquote(raw)) or h


def get_member(state: MailchimpState, req: Request) -> tuple[str, McMember]:
    """The member the path names, or Mailchimp's 404."""
    check_list(state, req)
    h = resolve_member(state, req.args["subscriber_hash"])
    m = state.members.get(h)
    if m is None:
        raise mailchimp_not_found()
    return h, m


def member_json(state: MailchimpState, h: str, m: McMember) -> dict[str, Any]:
    """A member in the wire shape (tags: the first 50, as Mailchimp returns)."""
    tags = [
        {"id": sid, "name": state.segments[sid].name} for sid in m.tags if sid in state.segments
    ]
    d: dict[str, Any] = {
        "id": h,
        "email_address": m.email,
        "unique_email_id": m.unique_email_id,
        "contact_id": m.contact_id,
        "full_name": f"{m.merge_fields.get('FNAME', '')} {m.merge_fields.get('LNAME', '')}".strip(),
        "web_id": m.web_id,
        "email_type": "html",
        "status": m.status,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": dict(m.merge_fields),
        "interests": {},
        "stats": {"avg_open_rate": m.avg_open_rate, "avg_click_rate": m.avg_click_rate},
        "ip_signup": "",
        "timestamp_signup": iso_s(m.signup_ms),
        "ip_opt": "",
        "timestamp_opt": iso_s(m.opt_ms),
        "member_rating": m.member_rating,
        "last_changed": iso_s(m.last_changed_ms),
        "language": m.language,
        "vip": m.vip,
        "email_client": "",
        "location": {
            "latitude": 0,
            "longitude": 0,
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": m.country_code,
            "timezone": m.timezone,
            "region": m.region,
        },
        "source": m.source,
        "tags_count": len(tags),
        "tags": tags[:50],
        "list_id": state.audience_id,
        "_links": [],
    }
    if m.status == "unsubscribed":
        d["unsubscribe_reason"] = "N/A (Unsubscribed by admin)"
    return d


def project(obj: Any, include: list[str], exclude: list[str], prefix: str = "") -> Any:
    """Apply Mailchimp's `fields` / `exclude_fields` (dotted paths) to a response."""
    if isinstance(obj, list):
        return [project(o, include, exclude, prefix) for o in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        path = f"{prefix}{k}"
        if path in exclude:
            continue
        if include and not any(i == path or i.startswith(path + ".") for i in include):
            continue
        if include and path in include:
            out[k] = project(v, [], exclude, path + ".")
        else:
            out[k] = project(v, include, exclude, path + ".")
    return out


def respond(req: Request, body: dict[str, Any], status: int = 200) -> Response:
    """A 200 body after `fields` / `exclude_fields`."""
    include, exclude = req.q_list("fields"), req.q_list("exclude_fields")
    if include or exclude:
        body = project(body, include, exclude)
    return Response(status, body)


def int_query(req: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter (absent: `default`), else Mailchimp's 400."""
    raw = req.q(name)
    if raw is None:
        return default
    require(raw.isdigit(), mailchimp_invalid(f"{name} must be a non-negative integer"))
    value = int(raw)
    require(
        maximum is None or value <= maximum,
        mailchimp_invalid(
            f"{name} must be at most {maximum}",
            [{"field": name, "message": f"Must be at most {maximum}"}],
        ),
    )
    return value


def time_query(req: Request, name: str) -> int | None:
    """An ISO 8601 time query parameter as epoch milliseconds (absent: None), else a 400."""
    raw = req.q(name)
    if raw is None:
        return None
    ms = parse_time_ms(raw.replace(" ", "+"))
    require(ms is not None, mailchimp_invalid(f"{name} is not a valid ISO 8601 time"))
    return ms
