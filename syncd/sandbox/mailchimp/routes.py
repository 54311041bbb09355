"""Mailchimp's route table, under the Marketing API's `/3.0` root."""

from __future__ import annotations

from syncd.sandbox.core.routing import Route, Router
from syncd.sandbox.mailchimp import activity, audience, lifecycle, members, tags
from syncd.sandbox.mailchimp.state import MailchimpState

API_ROOT = "/3.0"


def build_router() -> Router[MailchimpState]:
    """Mailchimp routes, in match order."""
    lst = API_ROOT + "/lists/{list_id}"
    member = lst + "/members/{subscriber_hash}"
    return Router(
        [
            Route("GET", API_ROOT + "/ping", audience.ping),
            Route("GET", API_ROOT + "/lists", audience.get_lists),
            Route("GET", lst, audience.get_list),
            Route("POST", lst, members.batch_subscribe),
            Route("GET", lst + "/members", members.list_members),
            Route("GET", member, members.read_member),
            Route("PUT", member, members.put_member),
            Route("PATCH", member, members.patch_member),
            Route("DELETE", member, lifecycle.archive_member),
            Route("POST", member + "/actions/delete-permanent", lifecycle.delete_permanent),
            Route("GET", member + "/tags", tags.member_tags),
            Route("POST", member + "/tags", tags.post_member_tags),
            Route("GET", member + "/activity", activity.member_activity),
            Route("GET", lst + "/segments", tags.list_segments),
            Route("POST", lst + "/segments", tags.create_segment),
            Route("GET", lst + "/segments/{segment_id}", tags.get_segment),
            Route("POST", lst + "/segments/{segment_id}", tags.batch_segment),
            Route("DELETE", lst + "/segments/{segment_id}", tags.delete_segment),
            Route("GET", lst + "/segments/{segment_id}/members", tags.segment_members),
            Route("GET", lst + "/tag-search", tags.tag_search),
        ]
    )
