"""Request and response values, and the route table that maps `METHOD /path` to a handler.

Routes are written as the vendors document them (`/crm/v3/objects/{objectType}/{objectId}`);
the template is also the endpoint name under which stats count the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncd.sandbox.errors import ApiError, hubspot_error, mailchimp_error
from syncd.sandbox.state import State

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Request:
    """One parsed request as handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    api: str  # "hubspot" | "mailchimp" | "sandbox"
    args: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; a malformed body is the vendor's 400, an empty one is None."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            if self.api == "mailchimp":
                raise mailchimp_error(
                    400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
                ) from exc
            raise hubspot_error(400, f"Invalid input JSON: {exc}", "VALIDATION_ERROR") from exc

    def json_object(self) -> dict[str, Any]:
        """The body, which must be a JSON object (or empty → {})."""
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            if self.api == "mailchimp":
                raise mailchimp_error(
                    400, "Invalid Resource", "The resource submitted could not be validated."
                )
            raise hubspot_error(400, "Invalid input JSON: expected an object")
        return data

    def q(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def q_list(self, name: str) -> list[str]:
        """All values of a repeated or comma-separated query parameter."""
        out: list[str] = []
        for v in self.query.get(name, ()):
            out.extend(p for p in v.split(",") if p)
        return out


@dataclass
class Response:
    """What a handler returns; `body` is JSON-able, or raw bytes, or None for no body."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=utf-8"


Handler = Callable[[State, Request], Response]


@dataclass(frozen=True)
class Route:
    """One endpoint. `read_post` marks POSTs that only read (search, batch read)."""

    method: str
    template: str
    handler: Handler
    read_post: bool = False
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(regex + "/?$"))

    @property
    def endpoint(self) -> str:
        """The stats key, e.g. `GET /crm/v3/objects/{objectType}`."""
        return f"{self.method} {self.template}"

    @property
    def is_write(self) -> bool:
        """True when the call changes state (what "zero write calls" counts)."""
        return self.method in WRITE_METHODS and not self.read_post


class Router:
    """Matches a method and path against the routes of one API, in order."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | bool:
        """The route and path arguments; else True if the path exists for another method."""
        path_exists = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict()
            path_exists = True
        return path_exists


def require(cond: bool, error: ApiError) -> None:
    """Raise `error` unless `cond` holds (keeps validation one line each)."""
    if not cond:
        raise error
