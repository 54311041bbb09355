"""Request and response values, and the route table that maps `METHOD /path` to a handler.

Routes are written as the vendors document them (`/crm/v3/objects/{objectType}/{objectId}`);
the template is also the endpoint name under which stats count the request. A route table is
generic in the state its handlers read and write, so each vendor's handlers see only their own
vendor's state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from syncd.sandbox.core.errors import ApiError, BadBodyError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
S = TypeVar("S")


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
        """The body as JSON; an empty one is None, a malformed one raises `BadBodyError`."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadBodyError(str(exc), malformed=True) from exc

    def json_object(self) -> dict[str, Any]:
        """The body, which must be a JSON object (or empty → {}); else raises `BadBodyError`."""
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise BadBodyError(f"expected an object, got {type(data).__name__}", malformed=False)
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


Handler = Callable[[S, Request], Response]


@dataclass(frozen=True)
class Route(Generic[S]):
    """One endpoint. `read_post` marks POSTs that only read (search, batch read)."""

    method: str
    template: str
    handler: Handler[S]
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


class Router(Generic[S]):
    """Matches a method and path against the routes of one API, in order."""

    def __init__(self, routes: list[Route[S]]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route[S], dict[str, str]] | bool:
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
