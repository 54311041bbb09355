"""The failure vocabulary: every condition syncd reports, as error class, reason code and advice.

A failure is told to an operator three ways, all from this one table:
- its error class (`ErrorClass`): what kind of action it needs, for exit codes and metrics;
- its reason code (`Reason`): what happened, a stable string stored on audit, run and outbox
  rows and offered to scripts;
- its advice: one line on what to do, shown by `syncd runs`, `syncd audit`, the console and the
  run's log line, and appended to a configuration error when it is raised.

Producers name the reason when they know it: the HTTP layer from the status, each connector from
its vendor's words (`connectors.<vendor>.failures`), the engine for what it decides itself. The
advice is looked up from the stored code whenever a failure is shown, never matched from message
text, so rewording a message cannot lose its advice. Rows written before reason codes existed
were given one by the migration that added them (0005).

Advice may name a vendor's own settings; `advice` picks that wording when the failure says which
vendor it came from, and the neutral one otherwise.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "FAILURES",
    "ErrorClass",
    "Failure",
    "Reason",
    "advice",
    "api_of",
    "class_of",
    "fallback",
    "gave_up",
    "stored_advice",
]


class ErrorClass(enum.StrEnum):
    """What the operator must do; the value is what the store, the logs and metrics carry."""

    CONFIG = "config"  # a person must act: configuration, credentials, names
    TRANSIENT = "transient"  # waiting helps: retried now, and left for the next run if not
    REJECTED = "rejected"  # one record was refused: fix it at its source
    SYSTEM = "system"  # a bug in syncd, or an answer it does not understand


class Reason(enum.StrEnum):
    """Why something failed: one code per distinct piece of advice (stored; never rename)."""

    # A person must act.
    AUTH_REFUSED = "auth_refused"
    SCOPE_MISSING = "scope_missing"
    AUDIENCE_MISSING = "audience_missing"
    TARGET_KIND_CONFLICT = "target_kind_conflict"
    NAME_TAKEN = "name_taken"
    CREATE_REFUSED = "create_refused"
    TARGET_SHARED = "target_shared"
    NOT_MIGRATED = "not_migrated"
    DATABASE_UNREACHABLE = "database_unreachable"
    SUPERSEDED = "superseded"
    HOLD_REJECTED = "hold_rejected"
    CONFIG_INVALID = "config_invalid"
    # Waiting helps.
    RATE_LIMITED = "rate_limited"
    VENDOR_UNAVAILABLE = "vendor_unavailable"
    TARGET_MISSING = "target_missing"
    INTERRUPTED = "interrupted"
    TEMPORARY_FAILURE = "temporary_failure"
    TARGET_DELETED = "target_deleted"
    TARGET_DELETED_KEPT = "target_deleted_kept"
    # One record refused.
    MEMBER_COMPLIANCE = "member_compliance"
    MEMBER_FORGOTTEN = "member_forgotten"
    CONTACT_DELETED = "contact_deleted"
    CONTACT_GONE = "contact_gone"
    CONTACT_MERGED = "contact_merged"
    MEMBER_ARCHIVED = "member_archived"
    MEMBER_GONE = "member_gone"
    NOT_IN_AUDIENCE = "not_in_audience"
    INVALID_EMAIL = "invalid_email"
    NO_EMAIL = "no_email"
    DUPLICATE_EMAIL = "duplicate_email"
    BAD_RECORD_ID = "bad_record_id"
    BATCH_TOO_LARGE = "batch_too_large"
    RECORD_REFUSED = "record_refused"
    # Inside syncd.
    NO_OUTCOME = "no_outcome"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Failure:
    """One row of the table.

    Attributes:
        error_class: The class syncd reports the condition under.
        advice: What to do, one line without a full stop, naming no vendor's settings.
        by_api: Wording for one vendor (`hubspot`, `mailchimp`) where it can say more.
    """

    error_class: ErrorClass
    advice: str
    by_api: Mapping[str, str] = field(default_factory=dict)


_C, _T, _R, _S = ErrorClass.CONFIG, ErrorClass.TRANSIENT, ErrorClass.REJECTED, ErrorClass.SYSTEM

#: The table: every reason, its class and its advice.
FAILURES: Mapping[Reason, Failure] = {
    Reason.AUTH_REFUSED: Failure(
        _C,
        "credentials refused; check the token or API key",
        {
            "hubspot": "HubSpot refused the access token (expired, revoked or mistyped): set "
            "hubspot.access_token (env SYNCD_HUBSPOT__ACCESS_TOKEN) to a valid private-app token",
            "mailchimp": "Mailchimp refused the API key (revoked, or the wrong datacenter): set "
            "mailchimp.api_key (env SYNCD_MAILCHIMP__API_KEY); its -usN suffix must match the "
            "datacenter in base_url",
        },
    ),
    Reason.SCOPE_MISSING: Failure(
        _C,
        "missing scope or permission for this call",
        {
            "hubspot": "HubSpot accepted the token, but the private app lacks a scope this call "
            "needs: `syncd check` lists every scope syncd needs (README: Connect HubSpot and "
            "Mailchimp); add the missing ones in the app's Scopes tab and commit the change",
            "mailchimp": "Mailchimp accepted the API key but refused the request: the account "
            "is disabled or suspended (e.g. a compliance review), or Mailchimp's firewall "
            "blocked the traffic; log in to Mailchimp to see the account's status",
        },
    ),
    Reason.AUDIENCE_MISSING: Failure(
        _C,
        "set mailchimp.audience_id to the Audience ID Mailchimp shows under Audience > All "
        "contacts > Settings > Audience name and defaults (not the audience's name)",
    ),
    Reason.TARGET_KIND_CONFLICT: Failure(
        _C,
        "a list or tag not made by syncd has this name and is of a kind syncd does not write; "
        "rename it",
        {
            "hubspot": "a HubSpot list or property not made by syncd has this name and is of a "
            "kind syncd does not write (it writes MANUAL contact lists and enumeration "
            "properties); rename or delete it",
            "mailchimp": "a Mailchimp segment not made by syncd has this name and is not a tag "
            "(static segment); rename that segment",
        },
    ),
    Reason.NAME_TAKEN: Failure(
        _C,
        "a list or tag with that name exists but is not the one syncd created; rename it",
        {
            "hubspot": "a list with that name exists but is not the one syncd created; rename "
            "or delete it",
            "mailchimp": "a tag with that name exists but is not the one syncd created; rename it",
        },
    ),
    Reason.CREATE_REFUSED: Failure(_C, "the API refused the create for the reason it gives"),
    Reason.TARGET_SHARED: Failure(
        _C, "two segments map to one remote list or tag; rename one of them"
    ),
    Reason.NOT_MIGRATED: Failure(_C, "run `syncd db upgrade`"),
    Reason.DATABASE_UNREACHABLE: Failure(
        _C, "check database_url and that the database server is reachable"
    ),
    Reason.SUPERSEDED: Failure(
        _C,
        "a newer run's plan replaced this one; nothing to do (`syncd plan` shows what the next "
        "run would change)",
    ),
    Reason.HOLD_REJECTED: Failure(
        _C,
        "a person rejected this held plan; the next run plans the target again against the "
        "rules and data of the time",
    ),
    Reason.CONFIG_INVALID: Failure(
        _C, "a person must fix the configuration or credentials; `syncd check` shows what"
    ),
    Reason.RATE_LIMITED: Failure(_T, "rate limited; will retry next run"),
    Reason.VENDOR_UNAVAILABLE: Failure(
        _T, "vendor unavailable; left in the outbox for the next run"
    ),
    Reason.TARGET_MISSING: Failure(
        _T, "the list or tag was deleted remotely; syncd recreates it next run"
    ),
    Reason.TARGET_DELETED: Failure(
        _T,
        "a person deleted this list or tag syncd owns; syncd recreates it and adds its members "
        "again next run (set on_deleted_target: stop to leave it deleted)",
    ),
    Reason.INTERRUPTED: Failure(
        _T,
        "the run stopped before it finished (killed, or overtaken after losing its lease); "
        "the next run resends what it had not confirmed",
    ),
    Reason.TEMPORARY_FAILURE: Failure(_T, "temporary failure; retried next run"),
    Reason.MEMBER_COMPLIANCE: Failure(_R, "member unsubscribed; syncd never re-subscribes"),
    Reason.MEMBER_FORGOTTEN: Failure(
        _R, "member asked Mailchimp to forget them; syncd never re-adds them"
    ),
    Reason.CONTACT_DELETED: Failure(
        _R, "contact deleted in the target system", {"hubspot": "contact deleted in HubSpot"}
    ),
    Reason.CONTACT_GONE: Failure(
        _R,
        "the contact left the source system (deleted, archived or GDPR-deleted); its "
        "memberships ended with it",
        {
            "hubspot": "the contact was deleted, archived or GDPR-deleted in HubSpot; its list "
            "memberships ended with it"
        },
    ),
    Reason.CONTACT_MERGED: Failure(
        _R,
        "the contact was merged into another record; the merged record carries its history "
        "and memberships from now on",
    ),
    Reason.MEMBER_ARCHIVED: Failure(
        _R,
        "the Mailchimp member was archived; syncd writes nothing to it until it subscribes again",
    ),
    Reason.MEMBER_GONE: Failure(
        _R, "the Mailchimp member was permanently deleted; its tags ended with it"
    ),
    Reason.TARGET_DELETED_KEPT: Failure(
        _T,
        "a person deleted this list or tag syncd owns and on_deleted_target is stop: syncd "
        "leaves it deleted; remove the segment's target, or set on_deleted_target: recreate",
    ),
    Reason.NOT_IN_AUDIENCE: Failure(
        _R, "contact is not in the Mailchimp audience (deleted or archived there)"
    ),
    Reason.INVALID_EMAIL: Failure(_R, "fix the address in the source system"),
    Reason.NO_EMAIL: Failure(_R, "the contact has no email address; add one in the source system"),
    Reason.DUPLICATE_EMAIL: Failure(
        _R, "two contacts share this address; merge them in the source system"
    ),
    Reason.BAD_RECORD_ID: Failure(
        _R, "the stored HubSpot id is malformed; `syncd sync --full` refreshes it"
    ),
    Reason.BATCH_TOO_LARGE: Failure(
        _R, "a batch was too large for the API; please report this as a syncd bug"
    ),
    Reason.RECORD_REFUSED: Failure(
        _R, "the vendor refused this record as sent; fix it in the source system"
    ),
    Reason.NO_OUTCOME: Failure(
        _S, "the vendor's answer did not mention this contact; retried next run"
    ),
    Reason.INTERNAL: Failure(_S, "unexpected error inside syncd; please report it with the run id"),
}

_FALLBACK = {
    ErrorClass.CONFIG: Reason.CONFIG_INVALID,
    ErrorClass.TRANSIENT: Reason.TEMPORARY_FAILURE,
    ErrorClass.REJECTED: Reason.RECORD_REFUSED,
    ErrorClass.SYSTEM: Reason.INTERNAL,
}
_APIS = ("hubspot", "mailchimp")
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts\b")


def class_of(reason: Reason) -> ErrorClass:
    """The class syncd reports `reason` under."""
    return FAILURES[reason].error_class


def fallback(error_class: ErrorClass) -> Reason:
    """The reason of a failure of `error_class` that names no more specific one."""
    return _FALLBACK[error_class]


def advice(reason: Reason, api: str | None = None) -> str:
    """The one line of advice for `reason`, in the wording for `api` when it has one."""
    row = FAILURES[reason]
    return row.by_api.get(api or "", row.advice)


def gave_up(attempts: int, message: str | None) -> str:
    """The stored message of a row left to the next plan after `attempts` failed attempts.

    Its reason stays the last attempt's; `stored_advice` reads the count back from here.
    """
    return f"gave up after {attempts} attempts: {message}"


def api_of(where: str | None, message: str | None = None) -> str | None:
    """The vendor a failure is about: from a target key or API name, else the message's head.

    Args:
        where: A target key (`hubspot_list:x`, `mailchimp_tag:x`, `hubspot_property:syncd`) or
            an API name.
        message: A stored message; syncd starts the messages of API failures with the API name.
    """
    for text in (where, message):
        head = (text or "").strip().lower()
        for api in _APIS:
            if head.startswith(api):
                return api
    return None


def stored_advice(
    code: str | None,
    error_class: str | None,
    message: str | None,
    where: str | None = None,
) -> str | None:
    """The advice for a failure as the store keeps it (an audit, run or outbox row).

    Args:
        code: The row's reason code; None on rows that are not failures.
        error_class: The row's class; a failure without a code gets its class's fallback.
        message: The row's message, for the vendor's name and a give-up count (see `gave_up`).
        where: The row's target key or API name.

    Returns:
        The advice, or None when the row is no failure. A row syncd stopped retrying says so,
        followed by the advice of its last failure when that is known.
    """
    reason = _known(code)
    attempts = _GAVE_UP.match((message or "").strip())
    if reason is None and attempts is None and error_class in _FALLBACK:
        reason = fallback(ErrorClass(error_class))
    inner = advice(reason, api_of(where, message)) if reason is not None else None
    if attempts is None:
        return inner
    lead = f"stopped after {attempts.group(1)} failed attempts; the next run plans it again"
    return f"{lead} ({inner})" if inner else lead


def _known(code: str | None) -> Reason | None:
    try:
        return Reason(code) if code else None
    except ValueError:  # a code this version does not know: fall back on the class
        return None
