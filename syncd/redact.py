"""Redaction of secrets and personal data from text and structured values.

Used by the log pipeline and by error messages built from HTTP exchanges, so that a token
can never reach a log line, an audit row or an exception shown to a person.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(
    r"(?i)(token|api[_-]?key|apikey|secret|password|passwd|authorization|auth|cookie|credential)"
)
# Values shaped like secrets.
_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),  # Authorization header values
    re.compile(r"\bpat-[a-z0-9]{2,4}-[0-9a-f-]{20,}\b"),  # HubSpot private-app tokens
    re.compile(r"\b[0-9a-f]{32}-us\d{1,3}\b"),  # Mailchimp API keys
    re.compile(r"(?i)([?&](?:access_token|api_?key|token|hapikey)=)[^&\s\"']+"),  # in URLs
    re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+(@)"),  # passwords in URLs
]
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def email_ref(email: str) -> str:
    """A stable, non-reversible reference to an email address for log lines."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:10]
    return f"<email:{digest}>"


class Redactor:
    """Removes registered secrets, secret-shaped values and email addresses.

    Secrets are registered at start-up from the configuration (and by the sandbox for its
    credentials), so a token that does not match any pattern is still removed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def register(self, secrets: Iterable[str | None]) -> None:
        """Add literal secret values; values shorter than 6 characters are ignored."""
        with self._lock:
            known = set(self._secrets)
            known.update(s for s in secrets if s and len(s) >= 6)
            # Longest first so that a secret containing another is removed whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def text(self, value: str, *, emails: bool = True) -> str:
        """Return `value` with every secret (and, by default, every email) replaced."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            value = pattern.sub(_keep_prefix, value)
        if emails:
            value = _EMAIL.sub(lambda m: email_ref(m.group(0)), value)
        return value

    def value(self, value: Any, *, key: str | None = None, emails: bool = True) -> Any:
        """Redact any JSON-like value recursively; values under secret-named keys go whole."""
        if key is not None and _SECRET_KEY.search(key) and value not in (None, "", False):
            return REDACTED
        if isinstance(value, str):
            return self.text(value, emails=emails)
        if isinstance(value, Mapping):
            return {k: self.value(v, key=str(k), emails=emails) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, emails=emails) for v in value]
        if isinstance(value, BaseException):
            return self.text(repr(value), emails=emails)
        return value


def _keep_prefix(match: re.Match[str]) -> str:
    groups = match.groups()
    if len(groups) == 2 and groups[1] == "@":
        return f"{groups[0]}{REDACTED}@"
    if groups and groups[0] and groups[0].endswith("="):
        return f"{groups[0]}{REDACTED}"
    if groups and groups[0] and groups[0].lower() in ("bearer", "basic"):
        return f"{groups[0]} {REDACTED}"
    return REDACTED


#: The process-wide redactor used by logging and HTTP error messages.
REDACTOR = Redactor()
