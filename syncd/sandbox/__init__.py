"""A faithful, stateful HubSpot + Mailchimp API emulator with seeded demo data.

`Sandbox` runs it in a background thread for tests; `serve_forever` runs it in the foreground
for `syncd sandbox serve`. `Limits` configures rate limits, `FaultConfig` injected failures.
"""

from syncd.sandbox.app import Sandbox
from syncd.sandbox.core.faults import FAULT_KINDS, FaultConfig
from syncd.sandbox.core.limits import Limits
from syncd.sandbox.defaults import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY
from syncd.sandbox.mailchimp.state import subscriber_hash
from syncd.sandbox.serve import serve_forever

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
