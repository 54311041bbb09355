"""Deal and company values for contacts, in the fewest calls the APIs allow.

Contacts are gathered 1,000 at a time for one associations v4 batch read per object type; the
deal and company ids found are queued and read 100 at a time, carrying partial batches over to
the next group of contacts, so the whole pull costs about `contacts/1000` association reads and
`deals/100` + `companies/100` object reads. Companies are cached for the pull (many contacts
share one). A contact is handed on once every value it waits for has arrived, so only a small
window of contacts is ever held.

Reads that do not depend on each other (the deal and the company associations of a group,
every full batch of deal and company ids queued) are sent at once (`together`): on loopback
the rate limit hides the difference, but over a real network each would otherwise wait a
round trip (100-300 ms) in turn, and a pull of 100k contacts spent most of its time so. The
client's budget paces them as any other calls; results are applied in the order asked.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.hubspot.client import ASSOCIATION_READS, NEXT_PAGE, HubSpotClient
from connectors.hubspot.limits import ASSOC_BATCH_MAX, BATCH_MAX
from syncd.http.paging import dig, paginate

DEAL_PROPERTIES = ("amount", "dealstage", "hs_is_closed_won", "hs_is_closed")
DEAL_AGGREGATES = ("won_count", "won_amount", "open_count", "open_amount")
PRIMARY_COMPANY_TYPE_ID = 1  # HUBSPOT_DEFINED "Primary" contact_to_company
#: Independent reads in flight at once (well under the budget's burst of 190).
READS_AT_ONCE = 8

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def together(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Each call's result, in order; with more than one, they run at once on a shared pool.

    The first error is raised once every call has ended, so no read is left running.
    """
    if len(calls) <= 1:
        return [c() for c in calls]
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(READS_AT_ONCE, thread_name_prefix="hubspot-enrich")
        pool = _pool
    futures = [pool.submit(c) for c in calls]
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]


@dataclass
class Item:
    """One contact on its way through enrichment."""

    raw: dict[str, Any]
    modified_ms: int = 0
    waiting: int = 0
    deals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DEAL_AGGREGATES, 0.0))
    company: dict[str, Any] | None = None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Item:
        """A contact as the list or search endpoint returned it, with its modification time."""
        props = raw.get("properties") or {}
        return cls(raw, iso_ms(props.get("lastmodifieddate") or raw.get("updatedAt")))


def iso_ms(value: Any) -> int:
    """Epoch milliseconds of a HubSpot time (digits or ISO 8601); 0 when unreadable."""
    if not value:
        return 0
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class Enricher:
    """Adds `deals.*` aggregates and `company.*` properties to raw contacts.

    Args:
        client: The HubSpot client.
        deal_fields: Aggregates asked for (`won_count`, ...); empty means no deal reads.
        company_properties: Company properties asked for; empty means no company reads.
    """

    def __init__(
        self,
        client: HubSpotClient,
        deal_fields: Sequence[str],
        company_properties: Sequence[str],
    ) -> None:
        self._client = client
        self._want_deals = bool(deal_fields)
        self._company_props = list(dict.fromkeys(company_properties))
        self._fresh: list[Item] = []  # not yet association-read
        self._held: list[Item] = []  # association-read, waiting for deals or companies
        self._deal_queue: deque[str] = deque()
        self._deal_waiters: dict[str, list[Item]] = {}
        self._company_queue: deque[str] = deque()
        self._company_waiters: dict[str, list[Item]] = {}
        self._companies: dict[str, dict[str, Any]] = {}

    @property
    def active(self) -> bool:
        """Whether any associated value is needed at all."""
        return self._want_deals or bool(self._company_props)

    def feed(self, items: Sequence[Item]) -> list[Item]:
        """Take raw contacts; return those whose values are complete (possibly earlier ones)."""
        if not self.active:
            return list(items)
        self._fresh.extend(items)
        while len(self._fresh) >= ASSOC_BATCH_MAX:
            group, self._fresh = self._fresh[:ASSOC_BATCH_MAX], self._fresh[ASSOC_BATCH_MAX:]
            self._associate(group)
        self._fetch(full_batches_only=True)
        return self._release()

    def finish(self) -> list[Item]:
        """Read what is still pending and return every remaining contact."""
        if not self.active:
            return []
        if self._fresh:
            group, self._fresh = self._fresh, []
            self._associate(group)
        self._fetch(full_batches_only=False)
        return self._release()

    def held_min_modified(self) -> int | None:
        """The earliest modification time among contacts not yet handed on."""
        times = [i.modified_ms for i in (*self._fresh, *self._held)]
        return min(times) if times else None

    # -- steps ------------------------------------------------------------------------------

    def _associate(self, group: list[Item]) -> None:
        by_id = {str(i.raw["id"]): i for i in group}
        ids = list(by_id)
        types = [
            t
            for t, wanted in (("deals", self._want_deals), ("companies", self._company_props))
            if wanted
        ]
        read = dict(
            zip(
                types,
                together([_bind(read_all_associations, self._client, t, ids) for t in types]),
                strict=True,
            )
        )
        if self._want_deals:
            for cid, targets in read["deals"]:
                item = by_id.get(cid)
                if item is None:
                    continue
                for t in targets:
                    deal_id = str(t.get("toObjectId"))
                    waiters = self._deal_waiters.setdefault(deal_id, [])
                    if not waiters:
                        self._deal_queue.append(deal_id)
                    waiters.append(item)
                    item.waiting += 1
        if self._company_props:
            for cid, targets in read["companies"]:
                item = by_id.get(cid)
                company_id = _primary(targets)
                if item is None or company_id is None:
                    continue
                known = self._companies.get(company_id)
                if known is not None:
                    item.company = known
                    continue
                waiters = self._company_waiters.setdefault(company_id, [])
                if not waiters:
                    self._company_queue.append(company_id)
                waiters.append(item)
                item.waiting += 1
        self._held.extend(group)

    def _fetch(self, *, full_batches_only: bool) -> None:
        least = BATCH_MAX if full_batches_only else 1
        deal_batches = _batches(self._deal_queue, least)
        company_batches = _batches(self._company_queue, least)
        reads = [
            _bind(self._client.read_objects, "deals", b, DEAL_PROPERTIES) for b in deal_batches
        ]
        reads += [
            _bind(self._client.read_objects, "companies", b, self._company_props)
            for b in company_batches
        ]
        answers = iter(together(reads))
        for batch in deal_batches:
            found = _objects(next(answers))
            for deal_id in batch:
                props = found.get(deal_id)
                for item in self._deal_waiters.pop(deal_id, []):
                    if props is not None:
                        _add_deal(item.deals, props)
                    item.waiting -= 1
        for batch in company_batches:
            found = _objects(next(answers))
            for company_id in batch:
                props = found.get(company_id, {})
                self._companies[company_id] = props
                for item in self._company_waiters.pop(company_id, []):
                    item.company = props
                    item.waiting -= 1

    def _release(self) -> list[Item]:
        ready = [i for i in self._held if i.waiting == 0]
        if ready:
            self._held = [i for i in self._held if i.waiting > 0]
        return ready


def _take(queue: deque[str], n: int) -> list[str]:
    return [queue.popleft() for _ in range(min(n, len(queue)))]


def _batches(queue: deque[str], least: int) -> list[list[str]]:
    """Batches of up to `BATCH_MAX` ids taken from `queue` while it holds at least `least`."""
    out = []
    while len(queue) >= least:
        out.append(_take(queue, BATCH_MAX))
    return out


def _bind(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    return lambda: fn(*args)


#: A position of a paged association read: (contact id, cursor or None) per contact still read.
AssocPosition = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class AssociationPaging:
    """The v4 batch read pages per input: each result names its own `paging.next.after`.

    The next request carries only the contacts whose result named a next page, each with its
    cursor (spec: `PublicFetchAssociationsBatchRequest.after`, "a paging cursor token").
    """

    ids: tuple[str, ...]

    def first(self) -> AssocPosition:
        """Every contact, from its first page."""
        return tuple((i, None) for i in self.ids)

    def next(self, position: AssocPosition, data: Any) -> AssocPosition | None:
        """The contacts that have more associations, with their cursors; None when none do."""
        more = []
        for r in data.get("results") or []:
            token = dig(r, NEXT_PAGE)
            if token is not None and token != "":
                more.append((str((r.get("from") or {}).get("id", "")), str(token)))
        return tuple(more) or None


def read_all_associations(
    client: HubSpotClient, to_type: str, ids: Sequence[str], *, from_type: str = "contacts"
) -> list[tuple[str, list[dict[str, Any]]]]:
    """`(from id, targets)` of every object in `ids` (contacts by default), each to its last page.

    A contact with more deals or companies than one page holds would otherwise be undercounted
    without any error. The pager's guard stops a read whose cursor comes back unchanged.
    """

    def fetch(position: AssocPosition) -> Any:
        after = {cid: token for cid, token in position if token is not None}
        ids = [cid for cid, _ in position]
        if from_type == "contacts":
            return client.read_associations(to_type, ids, after)
        return client.read_associations(to_type, ids, after, from_type=from_type)

    endpoint = ASSOCIATION_READS[from_type, to_type]
    found: dict[str, list[dict[str, Any]]] = {}
    for page in paginate(endpoint, fetch, AssociationPaging(tuple(ids))):
        for cid, targets in _associations(page.data):
            found.setdefault(cid, []).extend(targets)
    return list(found.items())


def _associations(data: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """`(contact id, targets)` from a v4 batch read.

    Contacts without any come back as 207 errors (`NO_ASSOCIATIONS_FOUND`) and simply have none.
    """
    out = []
    for r in data.get("results") or []:
        cid = str((r.get("from") or {}).get("id", ""))
        out.append((cid, [t for t in r.get("to") or [] if isinstance(t, dict)]))
    return out


def _primary(targets: list[dict[str, Any]]) -> str | None:
    """The primary company, else the first one."""
    for t in targets:
        for a in t.get("associationTypes") or []:
            if a.get("typeId") == PRIMARY_COMPANY_TYPE_ID or a.get("label") == "Primary":
                return str(t.get("toObjectId"))
    return str(targets[0].get("toObjectId")) if targets else None


def _objects(data: Any) -> dict[str, dict[str, Any]]:
    """Id -> properties of a batch read (ids reported missing in a 207 are just absent)."""
    return {str(r.get("id")): r.get("properties") or {} for r in data.get("results") or []}


def _add_deal(agg: dict[str, float], props: dict[str, Any]) -> None:
    won = str(props.get("hs_is_closed_won") or "").lower() == "true" or (
        props.get("dealstage") == "closedwon"
    )
    closed = won or str(props.get("hs_is_closed") or "").lower() == "true"
    amount = _number(props.get("amount"))
    if won:
        agg["won_count"] += 1
        agg["won_amount"] += amount
    elif not closed:
        agg["open_count"] += 1
        agg["open_amount"] += amount


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def associated_values(
    item: Item, deal_fields: Sequence[str], company_properties: Sequence[str]
) -> dict[str, Any]:
    """`deals.<aggregate>` and `company.<property>` values of one contact."""
    out: dict[str, Any] = {}
    for name in deal_fields:
        value = item.deals.get(name)
        if value is not None:
            out[f"deals.{name}"] = int(value) if name.endswith("_count") else value
    company = item.company or {}
    for name in company_properties:
        out[f"company.{name}"] = company.get(name)
    return out
