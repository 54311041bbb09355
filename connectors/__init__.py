"""Connectors: one package per external system, behind one small Protocol (`connectors.base`).

The engine looks connectors up by name (`create`, `factory`) and never imports a specific one. Each
factory takes keyword arguments of plain values (see the connector's constructor).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from connectors.base import Connector

#: name -> "module:factory"; imported on first use so an unused SDK is never loaded.
_FACTORIES = {
    "hubspot": "connectors.hubspot:HubSpotConnector",
    "mailchimp": "connectors.mailchimp:MailchimpConnector",
}


def factory(name: str) -> Callable[..., Connector]:
    """The constructor of connector `name` (`hubspot`, `mailchimp`).

    Raises:
        KeyError: Unknown connector name.
    """
    module, _, attr = _FACTORIES[name].partition(":")
    made: Callable[..., Connector] = getattr(importlib.import_module(module), attr)
    return made


def create(name: str, **kwargs: Any) -> Connector:
    """Build connector `name` from plain values."""
    return factory(name)(**kwargs)


NAMES = tuple(_FACTORIES)
