"""What HubSpot's refusals mean, as reason codes of `syncd.failures`.

HubSpot names its reasons in machine-readable fields of the error body (api-facts 1.5):
`category` (`OBJECT_NOT_FOUND`, `VALIDATION_ERROR`, ...), `subCategory` and, per property,
`errors[].code` or an `error` inside the message (`INVALID_EMAIL`). Whole-request refusals go
through `detect` (the HTTP layer's hook); the per-record errors of a 207 through `record_reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.failures import Reason

#: `subCategory` of the 400 for a list name already in use. Names are unique across all lists
#: of the portal, whatever their object type (Lists v3 `ListCreateRequest.name`, api-facts
#: "Spec facts"); integrations key on this code (segmentio/action-destinations, HubSpot
#: `upsertObject/functions/hubspot-list-functions.ts`).
DUPLICATE_LIST_NAMES = "ILS.DUPLICATE_LIST_NAMES"
#: The property error code of an address HubSpot does not accept.
INVALID_EMAIL = "INVALID_EMAIL"
OBJECT_NOT_FOUND = "OBJECT_NOT_FOUND"


def detect(status: int, body: Any) -> Reason | None:
    """The reason a HubSpot error body gives for a refused request, if it names one."""
    if not isinstance(body, Mapping):
        return None
    if body.get("subCategory") == DUPLICATE_LIST_NAMES:
        return Reason.NAME_TAKEN
    if _names_invalid_email(body):
        return Reason.INVALID_EMAIL
    return None


def record_reason(error: Mapping[str, Any]) -> Reason:
    """The reason of one entry of a 207's `errors[]` (api-facts 1.5)."""
    if error.get("category") == OBJECT_NOT_FOUND:
        return Reason.CONTACT_DELETED
    if _names_invalid_email(error):
        return Reason.INVALID_EMAIL
    return Reason.RECORD_REFUSED


def _names_invalid_email(error: Mapping[str, Any]) -> bool:
    codes = [e.get("code") for e in error.get("errors") or [] if isinstance(e, Mapping)]
    return INVALID_EMAIL in codes or INVALID_EMAIL in str(error.get("message") or "")
