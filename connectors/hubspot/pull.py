"""HubSpot pulls: full through the list endpoint, incremental through search.

Full: `GET /crm/v3/objects/contacts` with the `after` cursor, 100 per page, no result cap.
Incremental: search on `lastmodifieddate` (api-facts 1.2), ascending, from the cursor minus an
overlap window (search indexing lags) up to the run's start. Search stops at 10,000 results
per query, so before a query reaches it a new one starts at the last modification time seen,
and records seen at exactly that time are skipped. The cursor is epoch milliseconds as text,
never later than the run's start, and never past a contact not yet handed on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import FieldSource, Page, SourceRecord
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.enrich import Enricher, Item, associated_values
from connectors.hubspot.limits import PAGE_MAX, SEARCH_CAP, SEARCH_PAGE_MAX
from connectors.prefetch import prefetch
from syncd.errors import InternalError
from syncd.logs import get_logger

LIST_PREFETCH = 10  # list pages read ahead while deals and companies are fetched
ALWAYS = ("email", "lastmodifieddate")
log = get_logger(__name__)


@dataclass(frozen=True)
class PullPlan:
    """What to read, derived once from the field map."""

    properties: list[str]
    deal_fields: list[str]
    company_properties: list[str]
    sources: tuple[FieldSource, ...]

    @classmethod
    def of(cls, sources: Sequence[FieldSource]) -> PullPlan:
        """Split the field map into contact properties, deal aggregates and company props."""
        props, deals, company = list(ALWAYS), [], []
        for s in sources:
            head, _, rest = s.path.partition(".")
            if head == "deals" and rest:
                deals.append(rest)
            elif head == "company" and rest:
                company.append(rest)
            else:
                props.append(s.path)
        return cls(
            list(dict.fromkeys(props)),
            list(dict.fromkeys(deals)),
            list(dict.fromkeys(company)),
            tuple(sources),
        )


class Puller:
    """Runs one pull at a time for the connector.

    Args:
        client: The HubSpot client.
        plan: Properties and associations to read.
        clock: The run's start time comes from here.
        overlap_s: How far before the cursor an incremental pull starts.
        search_page: Search page size (<= 200).
    """

    def __init__(
        self,
        client: HubSpotClient,
        plan: PullPlan,
        clock: Callable[[], datetime],
        overlap_s: float,
        search_page: int = SEARCH_PAGE_MAX,
    ) -> None:
        self._client = client
        self._plan = plan
        self._clock = clock
        self._overlap_ms = int(overlap_s * 1000)
        self._search_page = search_page

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Full when asked or when there is no cursor yet, else incremental."""
        start_ms = int(self._clock().timestamp() * 1000)
        enricher = Enricher(self._client, self._plan.deal_fields, self._plan.company_properties)
        if full or not cursor:
            yield from self._full(enricher, start_ms)
        else:
            yield from self._incremental(enricher, _cursor_ms(cursor), start_ms)

    def _full(self, enricher: Enricher, start_ms: int) -> Iterator[Page]:
        for results in prefetch(self._list_pages(), LIST_PREFETCH, "hubspot-list-pages"):
            ready = enricher.feed([_item(r) for r in results])
            if ready:
                yield Page([self._record(i) for i in ready], None)
        # Everything changed before the start has been read: the next run starts there.
        yield Page([self._record(i) for i in enricher.finish()], str(start_ms))

    def _list_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Raw contacts of each list page, following `paging.next.after`."""
        after: str | None = None
        while True:
            data = self._client.list_contacts(after, self._plan.properties, PAGE_MAX)
            yield list(data.get("results") or [])
            nxt = str(((data.get("paging") or {}).get("next") or {}).get("after") or "") or None
            if nxt is None:
                return
            if nxt == after:
                raise InternalError("HubSpot returned the same list cursor twice; stopping")
            after = nxt

    def _incremental(self, enricher: Enricher, cursor_ms: int, start_ms: int) -> Iterator[Page]:
        anchor = max(0, min(cursor_ms, start_ms) - self._overlap_ms)
        skip: set[str] = set()  # ids already read whose time equals the anchor
        top_ms, at_top = anchor, set[str]()
        after = 0
        limit = self._search_page
        while True:
            data = self._client.search_contacts(self._search_body(anchor, start_ms, after, limit))
            items = []
            for r in data.get("results") or []:
                item = _item(r)
                rid = str(r.get("id"))
                if item.modified_ms == anchor and rid in skip:
                    continue
                items.append(item)
                if item.modified_ms > top_ms:
                    top_ms, at_top = item.modified_ms, {rid}
                elif item.modified_ms == top_ms:
                    at_top.add(rid)
            ready = enricher.feed(items)
            nxt = ((data.get("paging") or {}).get("next") or {}).get("after")
            if nxt is None:
                break
            after = int(nxt)
            if after + limit > SEARCH_CAP:
                # Re-anchor before the cap: a new query from the newest time seen.
                if top_ms == anchor:
                    raise InternalError(
                        f"more than {SEARCH_CAP} contacts share lastmodifieddate {anchor}; "
                        "run a full pull (syncd sync --full)"
                    )
                log.info("hubspot.search_reanchor", anchor_ms=top_ms)
                anchor, skip, after = top_ms, set(at_top), 0
            held = enricher.held_min_modified()
            safe = top_ms if held is None else min(held, top_ms)
            if ready:
                yield Page([self._record(i) for i in ready], str(min(safe, start_ms)))
        ready += enricher.finish()
        yield Page([self._record(i) for i in ready], str(start_ms))

    def _search_body(self, anchor: int, start_ms: int, after: int, limit: int) -> dict[str, Any]:
        prop = "lastmodifieddate"
        return {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": prop, "operator": "GTE", "value": str(anchor)},
                        {"propertyName": prop, "operator": "LTE", "value": str(start_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": self._plan.properties,
            "limit": limit,
            "after": str(after),
        }

    def _record(self, item: Item) -> SourceRecord:
        props: dict[str, Any] = item.raw.get("properties") or {}
        extra = associated_values(item, self._plan.deal_fields, self._plan.company_properties)
        fields = {
            s.field: extra[s.path] if s.path in extra else props.get(s.path)
            for s in self._plan.sources
        }
        return SourceRecord(
            source="hubspot",
            source_id=str(item.raw.get("id")),
            email=props.get("email"),
            fields=fields,
            updated_at=_ms_to_dt(item.modified_ms) if item.modified_ms else None,
        )  # fmt: skip


def _item(raw: dict[str, Any]) -> Item:
    props = raw.get("properties") or {}
    return Item(raw, _iso_ms(props.get("lastmodifieddate") or raw.get("updatedAt")))


def _iso_ms(value: Any) -> int:
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


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _cursor_ms(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        return _iso_ms(cursor)
