"""One way to start an emulator in a test: relaxed limits unless a test needs the vendors' own."""

from __future__ import annotations

from typing import Any

import requests

from syncd.sandbox import Limits, Sandbox


def start_sandbox(contacts: int, seed: int, limits: Limits | None = None) -> Sandbox:
    """A running sandbox; stop it with `stop()` or use it as a context manager.

    Args:
        contacts: Contacts to generate.
        seed: Seed of the data (the same seed gives the same people).
        limits: The vendors' limits; raised out of the way by default (limits and faults
            have their own tests).
    """
    return Sandbox(contacts=contacts, seed=seed, limits=limits or Limits.relaxed())


def as_person(sb: Sandbox, method: str, path: str, body: Any = None) -> requests.Response:
    """A HubSpot request made by a person in the portal (not syncd), e.g. an edit or a delete."""
    return requests.request(
        method,
        f"{sb.hubspot_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {sb.hubspot_token}", "X-Sandbox-Actor": "person"},
        timeout=10,
    )
