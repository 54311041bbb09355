"""Actionable errors: one line of advice for every failure an admin can meet in the sync log.

A stored failure is an error class (`syncd.errors.ErrorClass`) plus a redacted message that
carries the HTTP status and the vendor's words (see `syncd.http.classify.make_error`). The log
says *what* failed; the hint says *what to do about it*. `syncd runs`, `syncd audit` and the
run's log line all show the hint computed here, so the advice reads the same everywhere.

The table is ordered: the first row that matches wins, so specific vendor refusals come before
the HTTP status they arrive with, and the per-class fallbacks come last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HINTS", "Hint", "api_of", "hint_for"]

_GAVE_UP = re.compile(r"^gave up after (\d+) attempts:?\s*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Hint:
    """One row of the hint table.

    Attributes:
        name: Stable id of the row (tests and docs refer to it).
        pattern: Searched in the message, case-insensitively; None matches any message.
        hint: The advice, one line, no trailing full stop.
        classes: Error classes the row applies to; empty means any class (also None).
        api: `hubspot` or `mailchimp` when the advice is vendor-specific; None for both.
    """

    name: str
    pattern: re.Pattern[str] | None
    hint: str
    classes: frozenset[str] = frozenset()
    api: str | None = None

    def matches(self, error_class: str | None, message: str, api: str | None) -> bool:
        """Whether this row applies to a failure."""
        if self.classes and error_class not in self.classes:
            return False
        if self.api is not None and self.api != api:
            return False
        return self.pattern is None or self.pattern.search(message) is not None


def _row(
    name: str,
    pattern: str | None,
    hint: str,
    *,
    classes: Sequence[str] = (),
    api: str | None = None,
) -> Hint:
    compiled = re.compile(pattern, re.IGNORECASE) if pattern is not None else None
    return Hint(name, compiled, hint, frozenset(classes), api)


_HTTP_401 = r"\bHTTP 401\b|\bunauthori[sz]ed\b|\bAPI key (is )?invalid\b|\btoken (is )?expired\b"
_HTTP_403 = r"\bHTTP 403\b|\bforbidden\b|\bmissing (the )?scopes?\b"
_NOT_FOUND = (
    r"recordIdsMissing|\bnot_found\b|OBJECT_NOT_FOUND|no such contact|resource not found"
    r"|do(es)? not exist|no longer exists|\bHTTP 404\b"
)

#: The hint table, in match order.
HINTS: tuple[Hint, ...] = (
    # Vendor refusals that name their cause, whatever status they came with.
    _row(
        "mailchimp_compliance",
        r"in compliance state",
        "member unsubscribed; syncd never re-subscribes",
    ),
    _row(
        "mailchimp_forgotten",
        r"forgotten email",
        "member asked Mailchimp to forget them; syncd never re-adds them",
    ),
    _row(
        "interrupted",
        r"^interrupted:",
        "the run stopped before it finished (killed, or overtaken after losing its lease); "
        "the next run resends what it had not confirmed",
    ),
    _row(
        "superseded",
        r"\bsuperseded\b",
        "replaced by a newer run's plan; nothing to do",
    ),
    _row(
        "hubspot_list_kind",
        r"writes only MANUAL|is a (DYNAMIC|SNAPSHOT) list",
        "a HubSpot list not made by syncd has this name; rename that list",
    ),
    _row(
        "not_migrated",
        r"has no syncd schema|this syncd needs revision",
        "run `syncd db upgrade`",
    ),
    _row(
        "database_unreachable",
        r"cannot open the database",
        "check database_url and that the database server is reachable",
    ),
    # Credentials and scopes.
    _row(
        "hubspot_401",
        _HTTP_401,
        "token expired or missing the crm.lists.write scope",
        api="hubspot",
    ),
    _row("mailchimp_401", _HTTP_401, "API key revoked or wrong datacenter", api="mailchimp"),
    _row("auth_401", _HTTP_401, "credentials refused; check the token or API key"),
    _row(
        "hubspot_403",
        _HTTP_403,
        "the private app is missing a scope (crm.lists.write, crm.objects.contacts.write, "
        "crm.schemas.contacts.write); add it and update the token",
        api="hubspot",
    ),
    _row(
        "mailchimp_403",
        _HTTP_403,
        "the API key lacks permission, or Mailchimp's firewall blocked the request",
        api="mailchimp",
    ),
    _row("auth_403", _HTTP_403, "missing scope or permission for this call"),
    # Waiting helps.
    _row(
        "rate_limited",
        r"\bHTTP 429\b|rate.?limit|too many requests",
        "rate limited; will retry next run",
    ),
    _row(
        "target_missing",
        r"\bHTTP 404\b|target_missing",
        "the list or tag was deleted remotely; syncd recreates it next run",
        classes=("transient",),
    ),
    _row(
        "vendor_unavailable",
        r"\bHTTP 5\d\d\b|time(d )?out|no answer|connection (error|reset|refused|aborted)"
        r"|unavailable|request blocked",
        "vendor unavailable; left in the outbox for the next run",
    ),
    # One record refused.
    _row(
        "no_email",
        r"no email address",
        "the contact has no email address; add one in the source system",
    ),
    _row(
        "invalid_email",
        r"INVALID_EMAIL|invalid email|email address .{0,80}is invalid|looks fake or invalid",
        "fix the address in the source system",
    ),
    _row(
        "duplicate_email",
        r"duplicate|already exists|\bCONFLICT\b|\bHTTP 409\b",
        "two contacts share this address; merge them in the source system",
    ),
    _row("hubspot_not_found", _NOT_FOUND, "contact deleted in HubSpot", api="hubspot"),
    _row(
        "mailchimp_not_found",
        _NOT_FOUND,
        "contact is not in the Mailchimp audience (deleted or archived there)",
        api="mailchimp",
    ),
    _row("not_found", _NOT_FOUND, "contact deleted in the target system"),
    _row(
        "bad_record_id",
        r"not a record id",
        "the stored HubSpot id is malformed; `syncd sync --full` refreshes it",
    ),
    _row(
        "batch_too_large",
        r"maximum allowed member items exceeded|\bHTTP 413\b",
        "a batch was too large for the API; please report this as a syncd bug",
    ),
    _row(
        "no_outcome",
        r"no outcome reported",
        "the vendor's answer did not mention this contact; retried next run",
    ),
    # Fallbacks per class.
    _row(
        "config",
        None,
        "a person must fix the configuration or credentials; `syncd check` shows what",
        classes=("config",),
    ),
    _row("transient", None, "temporary failure; retried next run", classes=("transient",)),
    _row(
        "rejected",
        None,
        "the vendor refused this record as sent; fix it in the source system",
        classes=("rejected",),
    ),
    _row(
        "system",
        None,
        "unexpected error inside syncd; please report it with the run id",
        classes=("system",),
    ),
)


def api_of(target: str | None, message: str | None = None) -> str | None:
    """The vendor a failure is about: from the target key, else from the message's prefix.

    Args:
        target: A target key (`hubspot_list:x`, `mailchimp_tag:x`, `hubspot_property:syncd`) or
            an API name (`hubspot`, `mailchimp`).
        message: A stored message; `make_error` starts them with the API name.
    """
    for text in (target, message):
        if not text:
            continue
        head = text.strip().lower()
        for api in ("hubspot", "mailchimp"):
            if head.startswith(api):
                return api
    return None


def hint_for(error_class: str | None, message: str | None, target: str | None = None) -> str | None:
    """One line of advice for a failure, or None when there is nothing to advise.

    Args:
        error_class: `config`, `transient`, `rejected` or `system` (None for a success).
        message: The stored, redacted message (audit `message`, run `error_message`).
        target: The target key or API name, for vendor-specific advice.

    Returns:
        The hint of the first matching row of `HINTS`. A "gave up after N attempts" message
        gets the hint of its cause, prefixed with what giving up means.
    """
    if error_class is None and not message:
        return None
    text = (message or "").strip()
    gave_up = _GAVE_UP.match(text)
    if gave_up is not None:
        attempts, cause = gave_up.groups()
        inner = _first(None, cause, api_of(target, cause)) if cause else None
        lead = f"stopped after {attempts} failed attempts; the next run plans it again"
        return f"{lead} ({inner})" if inner else lead
    return _first(error_class, text, api_of(target, text))


def _first(error_class: str | None, message: str, api: str | None) -> str | None:
    for row in HINTS:
        if row.matches(error_class, message, api):
            return row.hint
    return None
