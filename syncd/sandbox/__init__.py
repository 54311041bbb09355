"""A faithful, stateful HubSpot + Mailchimp API emulator with seeded demo data.

`Sandbox` runs it in a background thread for tests; `serve_forever` runs it in the foreground
for `syncd sandbox serve`. `Limits` configures rate limits, `FaultConfig` injected failures.
"""

from syncd.sandbox.app import (
    DEFAULT_HUBSPOT_TOKEN,
    DEFAULT_MAILCHIMP_KEY,
    Sandbox,
    serve_forever,
)
from syncd.sandbox.faults import FAULT_KINDS, FaultConfig
from syncd.sandbox.limits import Limits
from syncd.sandbox.state import subscriber_hash

__all__ = [
    "DEFAULT_HUBSPOT_TOKEN",
    "DEFAULT_MAILCHIMP_KEY",
    "FAULT_KINDS",
    "FaultConfig",
    "Limits",
    "Sandbox",
    "serve_forever",
    "subscriber_hash",
]
