"""A person editing the CRM between runs, through the vendors' APIs on the sandbox, at the real
paths (`X-Sandbox-Actor: person` marks the calls as a person's, not syncd's)."""

from __future__ import annotations

from typing import Any

import requests

from syncd.sandbox import Sandbox
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
        assert resp.status_code == 204, resp.text

    def archive_contacts(self, *contact_ids: int) -> None:
        body = {"inputs": [{"id": str(i)} for i in contact_ids]}
        resp = self.hubspot("POST", "/crm/v3/objects/contacts/batch/archive", json=body)
        assert resp.status_code == 204, resp.text

    def gdpr_delete(self, contact_id: int) -> None:
        body = {"objectId": str(contact_id)}
        resp = self.hubspot("POST", "/crm/v3/objects/contacts/gdpr-delete", json=body)
        assert resp.status_code == 204, resp.text

    def create_contact(self, email: str, **props: str) -> int:
        body = {"properties": {"email": email, **props}}
        resp = self.hubspot("POST", "/crm/v3/objects/contacts", json=body)
        assert resp.status_code == 201, resp.text
        return int(resp.json()["id"])

    def merge_contacts(self, primary: int, merged: int) -> int:
        """The merged record's id (HubSpot gives it a new one)."""
        body = {"primaryObjectId": str(primary), "objectIdToMerge": str(merged)}
        resp = self.hubspot("POST", "/crm/v3/objects/contacts/merge", json=body)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["id"])

    def edit_deal(self, deal_id: int, **props: str) -> None:
        resp = self.hubspot("PATCH", f"/crm/v3/objects/deals/{deal_id}", json={"properties": props})
        assert resp.status_code == 200, resp.text

    def delete_list(self, list_id: int) -> None:
        resp = self.hubspot("DELETE", f"/crm/v3/lists/{list_id}")
        assert resp.status_code == 204, resp.text

    # -- Mailchimp ------------------------------------------------------------------------

    def archive_member(self, h: str) -> None:
        resp = self.mailchimp("DELETE", f"/members/{h}")
        assert resp.status_code == 204, resp.text

    def delete_member_permanently(self, h: str) -> None:
        resp = self.mailchimp("POST", f"/members/{h}/actions/delete-permanent")
        assert resp.status_code == 204, resp.text

    def change_member_email(self, h: str, email: str) -> str:
        """The member's new subscriber hash."""
        resp = self.mailchimp("PATCH", f"/members/{h}", json={"email_address": email})
        assert resp.status_code == 200, resp.text
        assert resp.json()["id"] == subscriber_hash(email)
        return str(resp.json()["id"])

    def resubscribe(self, h: str) -> None:
        """The member subscribes again themselves (their own sign-up form)."""
        resp = self.mailchimp("PATCH", f"/members/{h}", json={"status": "subscribed"})
        assert resp.status_code == 200, resp.text

    def delete_tag(self, segment_id: int) -> None:
        resp = self.mailchimp("DELETE", f"/segments/{segment_id}")
        assert resp.status_code == 204, resp.text
