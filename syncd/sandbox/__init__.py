"""A faithful, stateful HubSpot + Mailchimp API emulator with seeded demo data.

`Sandbox` runs it in a background thread (tests, `syncd demo`, and `syncd sandbox serve`, whose
foreground loop is the CLI's). `Limits` configures rate limits, `FaultConfig` injected failures.

Importing this package loads only `defaults`: the names below are imported on first use, so a
command that never starts the emulator (or only shows its default credentials) pays nothing
for it, and faker loads only when data is generated.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncd.sandbox.defaults import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY

if TYPE_CHECKING:
    from syncd.sandbox.app import Sandbox
    from syncd.sandbox.core.faults import FAULT_KINDS, FaultConfig
    from syncd.sandbox.core.limits import Limits
    from syncd.sandbox.mailchimp.state import subscriber_hash

_LAZY = {
    "FAULT_KINDS": "syncd.sandbox.core.faults",
    "FaultConfig": "syncd.sandbox.core.faults",
    "Limits": "syncd.sandbox.core.limits",
    "Sandbox": "syncd.sandbox.app",
    "subscriber_hash": "syncd.sandbox.mailchimp.state",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_HUBSPOT_TOKEN",
    "DEFAULT_MAILCHIMP_KEY",
    "FAULT_KINDS",
    "FaultConfig",
    "Limits",
    "Sandbox",
    "subscriber_hash",
]
