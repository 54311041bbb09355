"""`POST /crm/v3/objects/{objectType}/search`.

Filter groups, sorts, free-text query, paging by offset, and the 10,000-result cap.

Filter groups are ORed, filters in a group ANDed. Number and date properties compare
numerically (dates as epoch milliseconds, as HubSpot expects in filter values); strings
compare case-insensitively. Results of a query are cached until the next contact write, so
paging through one query does not re-scan the store on every page.

An optional indexing delay (`search_delay_ms` in `/_sandbox/faults`) leaves out records
created or modified less than that long ago: HubSpot says new and updated objects "may take
a few moments" to appear in search. A record modified inside the delay is left out entirely,
not shown as it was before (the index's older copy is not modelled).
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

from syncd.sandbox.core.clock import parse_time_ms
from syncd.sandbox.core.limits import Limits
from syncd.sandbox.core.routing import Request, Response, require
from syncd.sandbox.hubspot.errors import hubspot_error
from syncd.sandbox.hubspot.records import object_json, object_type, store
from syncd.sandbox.hubspot.state import HsObject, HubSpotState

SEARCH_LIMIT_MAX = 200
SEARCH_CAP = 10_000
QUERY_MAX = 3000
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
NUMERIC_OTHER = {
    "amount": "number",
    "numberofemployees": "number",
    "annualrevenue": "number",
    "hs_object_id": "number",
    "closedate": "datetime",
    "createdate": "datetime",
    "hs_lastmodifieddate": "datetime",
}
TEXT_FIELDS = ("firstname", "lastname", "email", "phone", "company", "name", "domain", "dealname")
_TOKEN = re.compile(r"[\w\-.]+")


def _ptype(state: HubSpotState, otype: str, name: str) -> str:
    if otype == "contacts":
        d = state.properties.get(name)
        return str(d["type"]) if d else "string"
    return NUMERIC_OTHER.get(name, "string")


def _num(o: HsObject, name: str, ptype: str) -> float | None:
    cache = o.num_cache
    if name in cache:
        return cache[name]
    raw = o.props.get(name)
    val: float | None = None
    if raw not in (None, ""):
        if ptype == "number":
            try:
                val = float(raw)
            except ValueError:
                val = None
        else:
            ms = parse_time_ms(raw)
            val = float(ms) if ms is not None else None
    cache[name] = val
    return val


def _filter_value(raw: Any, ptype: str) -> Any:
    if ptype in ("number", "date", "datetime"):
        s = str(raw)
        v = parse_time_ms(s) if ptype != "number" else None
        if v is not None:
            return float(v)
        try:
            return float(s)
        except ValueError:
            raise hubspot_error(400, f"{raw} is not a valid value for a {ptype} filter") from None
    return str(raw).strip().lower()


def _compile_filter(state: HubSpotState, otype: str, f: Any) -> Callable[[HsObject], bool]:
    require(isinstance(f, dict), hubspot_error(400, "filters must be objects"))
    name, op = f.get("propertyName"), f.get("operator", "EQ")
    require(isinstance(name, str) and bool(name), hubspot_error(400, "propertyName is required"))
    require(op in OPERATORS, hubspot_error(400, f"Unknown operator {op}"))
    ptype = _ptype(state, otype, name)
    numeric = ptype in ("number", "date", "datetime")

    def get(o: HsObject) -> Any:
        if numeric:
            return _num(o, name, ptype)
        raw = o.props.get(name)
        return None if raw in (None, "") else raw.strip().lower()

    if op == "HAS_PROPERTY":
        return lambda o: get(o) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda o: get(o) is None
    if op in ("IN", "NOT_IN"):
        values = f.get("values")
        require(isinstance(values, list), hubspot_error(400, f"{op} needs values"))
        wanted = {_filter_value(v, ptype) for v in values}
        if op == "IN":
            return lambda o: get(o) in wanted
        return lambda o: get(o) not in wanted
    require("value" in f, hubspot_error(400, f"{op} needs a value"))
    value = _filter_value(f["value"], ptype)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(f["value"]).strip().lower()

        def contains(o: HsObject) -> bool:
            raw = o.props.get(name)
            if not raw:
                return False
            text = raw.strip().lower()
            if "*" in pattern:
                return fnmatch.fnmatchcase(text, pattern) or any(
                    fnmatch.fnmatchcase(t, pattern) for t in _TOKEN.findall(text)
                )
            return pattern == text or pattern in _TOKEN.findall(text)

        if op == "CONTAINS_TOKEN":
            return contains
        return lambda o: not contains(o)
    if op == "BETWEEN":
        require("highValue" in f, hubspot_error(400, "BETWEEN needs highValue"))
        high = _filter_value(f["highValue"], ptype)
        return lambda o: (v := get(o)) is not None and value <= v <= high
    if ptype == "date" and op == "EQ":  # a date equals any time on that day
        return lambda o: (v := get(o)) is not None and value <= v < value + 86_400_000
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == value,
        "NEQ": lambda v: v != value,
        "LT": lambda v: v < value,
        "LTE": lambda v: v <= value,
        "GT": lambda v: v > value,
        "GTE": lambda v: v >= value,
    }
    test = compare[op]
    if op == "NEQ":
        return lambda o: (v := get(o)) is None or test(v)
    return lambda o: (v := get(o)) is not None and test(v)


def _sort_key(state: HubSpotState, otype: str, sorts: list[Any]) -> list[tuple[str, bool, str]]:
    keys = []
    for s in sorts:
        if isinstance(s, str):
            name, desc = s.lstrip("-"), s.startswith("-")
        elif isinstance(s, dict) and s.get("propertyName"):
            name, desc = str(s["propertyName"]), s.get("direction", "ASCENDING") == "DESCENDING"
        else:
            raise hubspot_error(400, "sorts must be property names or {propertyName, direction}")
        keys.append((name, desc, _ptype(state, otype, name)))
    return keys


def _matching_ids(
    state: HubSpotState, otype: str, body: dict[str, Any], limits: Limits
) -> list[int]:
    groups = body.get("filterGroups") or []
    require(isinstance(groups, list), hubspot_error(400, "filterGroups must be a list"))
    require(
        len(groups) <= limits.search_max_groups,
        hubspot_error(400, f"Too many filter groups (max {limits.search_max_groups})"),
    )
    n_filters = 0
    for g in groups:
        require(isinstance(g, dict), hubspot_error(400, "filter groups must be objects"))
        fs = g.get("filters") or []
        n_filters += len(fs)
        require(
            len(fs) <= limits.search_max_filters_per_group,
            hubspot_error(
                400, f"Too many filters in a group (max {limits.search_max_filters_per_group})"
            ),
        )
    require(
        n_filters <= limits.search_max_filters,
        hubspot_error(400, f"Too many filters (max {limits.search_max_filters})"),
    )
    query = str(body.get("query") or "").strip().lower()
    require(len(query) <= QUERY_MAX, hubspot_error(400, f"query longer than {QUERY_MAX}"))
    sorts = body.get("sorts") or []
    require(isinstance(sorts, list), hubspot_error(400, "sorts must be a list"))
    key = (otype, json.dumps(groups, sort_keys=True), json.dumps(sorts), query, state.version)
    cache = state.search_cache
    cached = cache.get(key)
    if cached is not None:
        return cached
    ranged = id_range(state, otype, groups, sorts, query)
    if ranged is not None:
        return ranged  # not cached: each page of a keyset read is a new query
    out = scan_ids(state, otype, groups, sorts, query)
    if len(cache) > 64:
        cache.clear()
    cache[key] = out
    return out


def scan_ids(
    state: HubSpotState, otype: str, groups: list[Any], sorts: list[Any], query: str
) -> list[int]:
    """The matching ids in answer order, by checking every object (the general path)."""
    compiled = [
        [_compile_filter(state, otype, f) for f in (g.get("filters") or [])] for g in groups
    ]
    objs = store(state, otype)
    ids = state.contact_ids if otype == "contacts" else sorted(objs)
    out = []
    for oid in ids:
        o = objs[oid]
        if compiled and not any(all(t(o) for t in g) for g in compiled):
            continue
        if query and not any(query in (o.props.get(f) or "").lower() for f in TEXT_FIELDS):
            continue
        out.append(oid)
    for name, desc, ptype in reversed(_sort_key(state, otype, sorts)):
        numeric = ptype in ("number", "date", "datetime")

        def k(oid: int, name: str = name, numeric: bool = numeric, ptype: str = ptype) -> Any:
            o = objs[oid]
            v = _num(o, name, ptype) if numeric else (o.props.get(name) or "").lower() or None
            return (v is None, v if v is not None else 0)

        present = [i for i in out if not k(i)[0]]
        absent = [i for i in out if k(i)[0]]
        present.sort(key=lambda i: k(i)[1], reverse=desc)
        out = present + absent  # objects without the value sort last either way
    return out


_ID_BOUNDS = {"LT", "LTE", "GT", "GTE"}
_ID_SORTS = [
    [{"propertyName": "hs_object_id", "direction": d}] for d in ("ASCENDING", "DESCENDING")
]


def id_range(
    state: HubSpotState, otype: str, groups: list[Any], sorts: list[Any], query: str
) -> list[int] | None:
    """Contacts in an `hs_object_id` range, by id, found by bisection (None: not that query).

    The same answer as the general path, for the one query shape a keyset read sends page
    after page (a test compares the two); the general path would scan every contact per page.
    """
    if otype != "contacts" or query or len(groups) > 1:
        return None
    filters = (groups[0].get("filters") or []) if groups else []
    if not all(
        isinstance(f, dict)
        and f.get("propertyName") == "hs_object_id"
        and f.get("operator") in _ID_BOUNDS
        and "value" in f
        for f in filters
    ):
        return None
    if sorts and sorts not in _ID_SORTS:
        return None
    ids = state.contact_ids
    lo, hi = 0, len(ids)
    for f in filters:
        bound = _filter_value(f["value"], "number")
        if f["operator"] == "LT":
            hi = min(hi, bisect.bisect_left(ids, bound))
        elif f["operator"] == "LTE":
            hi = min(hi, bisect.bisect_right(ids, bound))
        elif f["operator"] == "GT":
            lo = max(lo, bisect.bisect_right(ids, bound))
        else:
            lo = max(lo, bisect.bisect_left(ids, bound))
    found = ids[lo:hi] if lo < hi else []
    descending = bool(sorts) and sorts[0]["direction"] == "DESCENDING"
    return found[::-1] if descending else found


def search(state: HubSpotState, req: Request, limits: Limits, delay_ms: int = 0) -> Response:
    """The search endpoint: `total`, `results`, `paging.next.after` as a string offset.

    Records modified within the last `delay_ms` are not indexed yet, so not found.
    """
    otype = object_type(req)
    body = req.json_object()
    limit = body.get("limit", 10)
    require(
        isinstance(limit, int) and 0 <= limit <= SEARCH_LIMIT_MAX,
        hubspot_error(400, f"limit must be between 0 and {SEARCH_LIMIT_MAX}"),
    )
    # `after` is "the paging cursor token" (a string) of `PublicObjectSearchRequest`; the
    # sandbox's tokens happen to be offsets, but a number sent in its place is refused.
    after_raw = body.get("after", "0")
    require(
        isinstance(after_raw, str) and (after_raw == "" or after_raw.isdigit()),
        hubspot_error(400, "after must be a paging cursor token from paging.next.after"),
    )
    after = int(after_raw or "0")
    if after + limit > SEARCH_CAP:
        raise hubspot_error(
            400,
            f"Search results are capped at {SEARCH_CAP}: offset {after} plus limit {limit} "
            "goes past the cap. Narrow the query (for example by lastmodifieddate).",
        )
    ids = _matching_ids(state, otype, body, limits)
    objs = store(state, otype)
    if delay_ms > 0:
        indexed_until = state.clock.now_ms() - delay_ms
        ids = [i for i in ids if objs[i].updated_ms <= indexed_until]
    props = body.get("properties") or []
    page = ids[after : after + limit]
    result: dict[str, Any] = {
        "total": len(ids),
        "results": [object_json(objs[i], otype, props) for i in page],
    }
    nxt = after + limit
    if nxt < len(ids) and limit:  # `link` is optional and, when sent, a string: left out
        result["paging"] = {"next": {"after": str(nxt)}}
    return Response(200, result)
