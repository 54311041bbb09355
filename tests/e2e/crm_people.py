"""A person editing the CRM between runs, through the vendors' APIs on the sandbox.

Each action goes to the real path first. Where the emulator does not serve that path yet
(contact delete and merge, a member's permanent deletion or address change are being added to
it), the same change is made to the sandbox's state the way the vendor documents it, so the
product is tested against the change either way; the fallback goes once the path answers.
"""

from __future__ import annotations

from typing import Any

import requests

from syncd.sandbox import Sandbox
from syncd.sandbox.hubspot.objects import apply_properties
from syncd.sandbox.mailchimp.state import subscriber_hash

PERSON = {"X-Sandbox-Actor": "person"}


class Person:
    """Someone with access to the portal and the audience."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    # -- raw calls ------------------------------------------------------------------------

    def hubspot(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.sb.hubspot_token}", **PERSON}
        return requests.request(
            method, f"{self.sb.hubspot_url}{path}", headers=headers, timeout=10, **kw
        )

    def mailchimp(self, method: str, path: str, **kw: Any) -> requests.Response:
        url = f"{self.sb.mailchimp_url}/lists/{self.sb.audience_id}{path}"
        return requests.request(
            method, url, auth=("person", self.sb.mailchimp_key), headers=PERSON, timeout=10, **kw
        )

    # -- HubSpot --------------------------------------------------------------------------

    def change_email(self, contact_id: int, email: str) -> None:
        resp = self.hubspot(
            "PATCH",
            f"/crm/v3/objects/contacts/{contact_id}",
            json={"properties": {"email": email}},
        )
        assert resp.status_code == 200, resp.text

    def delete_contact(self, contact_id: int) -> None:
        resp = self.hubspot("DELETE", f"/crm/v3/objects/contacts/{contact_id}")
        if resp.status_code == 204:
            return
        with self.sb.state_lock():
            self._drop_contact(contact_id)

    def merge_contacts(self, primary: int, merged: int) -> None:
        body = {"primaryObjectId": str(primary), "objectIdToMerge": str(merged)}
        resp = self.hubspot("POST", "/crm/v3/objects/contacts/merge", json=body)
        if resp.status_code == 200:
            return
        with self.sb.state_lock():
            hs = self.sb.hubspot
            winner = hs.contacts[primary]
            ids = [i for i in winner.props.get("hs_merged_object_ids", "").split(";") if i]
            apply_properties(hs, winner, {"hs_merged_object_ids": ";".join([*ids, str(merged)])})
            self._drop_contact(merged)

    def delete_list(self, list_id: int) -> None:
        resp = self.hubspot("DELETE", f"/crm/v3/lists/{list_id}")
        assert resp.status_code == 204, resp.text

    def _drop_contact(self, contact_id: int) -> None:
        hs = self.sb.hubspot
        gone = hs.contacts.pop(contact_id)
        hs.contact_ids.remove(contact_id)
        email = gone.props.get("email", "").strip().lower()
        if hs.email_index.get(email) == contact_id:
            del hs.email_index[email]
        for lst in hs.lists.values():
            lst.members.pop(contact_id, None)
        hs.contact_deals.pop(contact_id, None)
        hs.contact_companies.pop(contact_id, None)
        hs.version += 1
        hs.search_cache.clear()

    # -- Mailchimp ------------------------------------------------------------------------

    def archive_member(self, h: str) -> None:
        resp = self.mailchimp("DELETE", f"/members/{h}")
        assert resp.status_code == 204, resp.text

    def delete_member_permanently(self, h: str) -> None:
        resp = self.mailchimp("POST", f"/members/{h}/actions/delete-permanent")
        if resp.status_code == 204:
            return
        with self.sb.state_lock():
            mc = self.sb.mailchimp
            del mc.members[h]
            mc.members_version += 1
            mc.members_cache.clear()

    def change_member_email(self, h: str, email: str) -> str:
        """The member's new subscriber hash."""
        resp = self.mailchimp("PATCH", f"/members/{h}", json={"email_address": email})
        new = subscriber_hash(email)
        if resp.status_code == 200 and new in self.sb.mailchimp.members:
            return new
        with self.sb.state_lock():
            mc = self.sb.mailchimp
            member = mc.members.pop(h)
            member.email = email
            member.last_changed_ms = mc.clock.write_ms()
            mc.members[new] = member
            mc.members_version += 1
            mc.members_cache.clear()
        return new

    def delete_tag(self, segment_id: int) -> None:
        resp = self.mailchimp("DELETE", f"/segments/{segment_id}")
        assert resp.status_code == 204, resp.text
