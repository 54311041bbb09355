"""What Mailchimp's refusals mean, as reason codes of `syncd.failures`.

Mailchimp's problem+json errors name their reason only in words: the `title` (`Member In
Compliance State`) or the `detail` (api-facts 2.5); a segment batch reports refused addresses
in `errors[].error` with HTTP 200 (api-facts 2.3). Those words are matched here, and only here,
so the rest of syncd deals in reason codes. Phrases are matched case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.failures import Reason

#: Phrase -> reason, first match wins. Sources: api-facts 2.5 (compliance, forgotten), 2.3 (the
#: 500-item maximum), the sandbox's model of the fake-address 400 and of segment batch errors.
#: The taken tag name's detail ("Sorry, that tag already exists.") is not in the API reference;
#: integrations match on it (e.g. parti-renaissance/espace-adherent `src/Mailchimp/Manager.php`).
PHRASES: tuple[tuple[str, Reason], ...] = (
    ("member in compliance state", Reason.MEMBER_COMPLIANCE),
    ("forgotten email not subscribed", Reason.MEMBER_FORGOTTEN),
    ("maximum allowed member items exceeded", Reason.BATCH_TOO_LARGE),
    ("looks fake or invalid", Reason.INVALID_EMAIL),
    ("do not exist in the list", Reason.NOT_IN_AUDIENCE),
    ("tag already exists", Reason.NAME_TAKEN),
)


def detect(status: int, body: Any) -> Reason | None:
    """The reason a Mailchimp error body gives for a refused request, if it names one."""
    if not isinstance(body, Mapping):
        return None
    return _match(" ".join(str(body.get(k) or "") for k in ("title", "detail")))


def member_reason(error: str) -> Reason:
    """The reason of one `errors[].error` of a segment batch; a refusal if it names none."""
    return _match(error) or Reason.RECORD_REFUSED


def _match(text: str) -> Reason | None:
    lowered = text.lower()
    for phrase, reason in PHRASES:
        if phrase in lowered:
            return reason
    return None
