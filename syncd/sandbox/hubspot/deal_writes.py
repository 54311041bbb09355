"""Writes to deals and companies: a person's edit, with HubSpot's property checks.

A deal or company edit moves its `hs_lastmodifieddate` (HubSpot's last-modified property of
every object but contacts), which is what an incremental pull searches on.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.hubspot import property_catalog as hp
from syncd.sandbox.hubspot.state import HsObject, HubSpotState


def validate_other(otype: str, props: Any) -> list[dict[str, Any]]:
    """Per-property problems of a deal or company write (unknown or calculated properties)."""
    if not isinstance(props, dict):
        return [
            {"name": "properties", "error": "INVALID", "message": "properties must be an object"}
        ]
    known = hp.DEAL_PROPS if otype == "deals" else hp.COMPANY_PROPS
    problems = []
    for name, value in props.items():
        err = msg = ""
        if name in hp.OTHER_READ_ONLY:
            err, msg = (
                "READ_ONLY_VALUE",
                f'"{name}" is a read only property; its value cannot be set.',
            )
        elif name not in known:
            err, msg = "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
        elif name in ("amount", "numberofemployees", "annualrevenue") and value not in (None, ""):
            try:
                float(str(value))
            except ValueError:
                err, msg = "INVALID_INTEGER", f"{value} is not a valid number"
        if err:
            problems.append({"isValid": False, "message": msg, "error": err, "name": name})
    return problems


def apply_other(state: HubSpotState, o: HsObject, props: dict[str, Any]) -> None:
    """Write deal or company values and bump `hs_lastmodifieddate` (and closed flags)."""
    for name, value in props.items():
        if value is None or value == "":
            o.props.pop(name, None)
        else:
            o.props[name] = str(value)
        o.num_cache.pop(name, None)
    if "dealstage" in props:  # HubSpot calculates these from the stage
        stage = o.props.get("dealstage", "")
        o.props["hs_is_closed_won"] = "true" if stage == "closedwon" else "false"
        o.props["hs_is_closed"] = "true" if stage.startswith("closed") else "false"
    o.updated_ms = state.clock.write_ms()
    o.props["hs_lastmodifieddate"] = iso_ms(o.updated_ms)
    o.num_cache.pop("hs_lastmodifieddate", None)
    state.version += 1
