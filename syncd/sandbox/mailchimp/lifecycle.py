"""Mailchimp members leaving the audience: archive (`DELETE`) and permanent delete.

An archived member keeps its data and can come back (a PUT or PATCH with a status); a
permanently deleted one is gone, and its address cannot be added through the API again.
"""

from __future__ import annotations

from syncd.sandbox.core.routing import Request, Response
from syncd.sandbox.mailchimp.errors import mailchimp_error
from syncd.sandbox.mailchimp.shapes import get_member
from syncd.sandbox.mailchimp.state import MailchimpState


def archive_member(state: MailchimpState, req: Request) -> Response:
    """`DELETE /lists/{list_id}/members/{subscriber_hash}` archives the member (204).

    Source: "Archive list member",
    https://mailchimp.com/developer/marketing/api/list-members/; a bounced
    (cleaned), pending or already archived contact is refused with 405 "Can not archive a
    contact that is bounced, pending or archived" (api-facts 2.5, recorded real responses).
    """
    _, m = get_member(state, req)
    if m.status in ("cleaned", "pending", "archived"):
        raise mailchimp_error(
            405,
            "Method Not Allowed",
            "Can not archive a contact that is bounced, pending or archived",
        )
    m.prior_status, m.status = m.status, "archived"
    m.last_changed_ms = state.clock.write_ms()
    state.members_version += 1
    return Response(204)


def delete_permanent(state: MailchimpState, req: Request) -> Response:
    """`POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent` (204).

    Source: "Delete list member",
    (List Members, https://mailchimp.com/developer/marketing/api/list-members/)
    ("Delete all personally identifiable information related to a list member, and remove
    them from a list. This will make it impossible to re-import the list member."). Its tags
    go with it; adding the address again through the API answers 400 "Forgotten Email Not
    Subscribed" (see `members.check_not_forgotten`).
    """
    h, m = get_member(state, req)
    del state.members[h]
    state.forgotten.add(m.email.strip().lower())
    state.members_version += 1
    return Response(204)
