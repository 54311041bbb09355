"""Links out of the console: a contact's HubSpot record and its Mailchimp member profile.

HubSpot's contact record URL needs the portal (hub) id, which the CRM API's records do not
carry: it comes from `ui.hubspot_portal_id`. Mailchimp's admin pages live on the account's data
centre (`us21` in the API key) and open a member by its Mailchimp `contact_id`, which the store
keeps as `contacts.mailchimp_key`.
A link whose parts are unknown is left out rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

HUBSPOT_APP = "https://app.hubspot.com"


@dataclass(frozen=True)
class ExternalLinks:
    """What the console knows to build vendor links; None parts mean no link of that kind."""

    hubspot_portal_id: int | None = None
    mailchimp_dc: str | None = None

    def hubspot_contact(self, hubspot_id: str | None) -> str | None:
        """`https://app.hubspot.com/contacts/{portal}/record/0-1/{id}`, or None when unknown."""
        if self.hubspot_portal_id is None or not hubspot_id:
            return None
        return f"{HUBSPOT_APP}/contacts/{self.hubspot_portal_id}/record/0-1/{quote(hubspot_id)}"

    def mailchimp_member(self, contact_id: str | None) -> str | None:
        """The member's contact profile in Mailchimp's admin, or None when unknown."""
        if not self.mailchimp_dc or not contact_id:
            return None
        query = urlencode({"contact_id": contact_id})
        return f"https://{self.mailchimp_dc}.admin.mailchimp.com/audience/contact-profile?{query}"


def datacenter(api_key: str | None, base_url: str | None = None) -> str | None:
    """The Mailchimp data centre (`us21`) from the API key's suffix, else from an API URL."""
    if api_key and "-" in api_key:
        dc = api_key.rsplit("-", 1)[1].strip().lower()
        if dc.isalnum():
            return dc
    if base_url and ".api.mailchimp.com" in base_url:
        host = base_url.split("://", 1)[-1].split("/", 1)[0]
        return host.split(".", 1)[0] or None
    return None
