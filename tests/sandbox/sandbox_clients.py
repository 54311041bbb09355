"""The official SDKs, unchanged, pointed at a sandbox."""

from __future__ import annotations

from typing import Any

import mailchimp_marketing
import requests
from hubspot import HubSpot

from syncd.sandbox import Sandbox


def hubspot(sb: Sandbox) -> Any:
    """The official HubSpot SDK, unchanged, pointed at the sandbox."""
    return HubSpot(access_token=sb.hubspot_token, host=sb.hubspot_url)


def mailchimp(sb: Sandbox) -> Any:
    """The official Mailchimp SDK, unchanged, pointed at the sandbox."""
    client = mailchimp_marketing.Client({"api_key": sb.mailchimp_key, "timeout": 10})
    client.api_client.host = sb.mailchimp_url
    return client


def hubspot_request(sb: Sandbox, method: str, path: str, body: Any = None) -> requests.Response:
    """A plain HTTP call to the sandbox's HubSpot API: for what the SDK would not send as is."""
    return requests.request(
        method,
        f"{sb.hubspot_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {sb.hubspot_token}"},
        timeout=10,
    )
