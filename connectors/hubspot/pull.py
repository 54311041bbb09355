"""HubSpot pulls: full through the list endpoint, incremental through search or a list scan.

Full: `GET /crm/v3/objects/contacts` with the `after` cursor, 100 per page, no result cap; by
default with search reading from the other end at once (`connectors.hubspot.split`).
Incremental: search on `lastmodifieddate` (api-facts 1.2), ascending, from the cursor (less an
overlap window after a search run, since search indexing lags: `connectors.hubspot.cursor`) up
to the run's start, re-anchored before the 10,000-result cap (`connectors.hubspot.search`).
When the first page's `total` shows so many changes that walking the whole list is quicker
(`connectors.hubspot.method`), the pull walks the list instead and hands on only the contacts
changed in the window; it stays incremental (no departures are swept). Then the contacts of
deals and companies changed in the window are read again (`connectors.hubspot.related`). The
cursor is never later than the run's start, and never past a contact not yet handed on. All
reads go through `paginate`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from connectors.base import FieldSource, Page, SourceRecord
from connectors.hubspot.client import LIST_CONTACTS, PAGING, SEARCH_CONTACTS, HubSpotClient
from connectors.hubspot.cursor import PullCursor
from connectors.hubspot.enrich import Enricher, Item, associated_values
from connectors.hubspot.limits import ASSOC_BATCH_MAX, BATCH_MAX, PAGE_MAX, SEARCH_PAGE_MAX
from connectors.hubspot.method import ReadRates, prefer_scan, worth_counting
from connectors.hubspot.related import touched_contacts
from connectors.hubspot.search import SearchQuery, SearchWindow
from connectors.hubspot.split import SplitRead
from syncd.events import Event
from syncd.http import Fetched, PageToken, paginate
from syncd.logs import get_logger
from syncd.producers import prefetch

log = get_logger(__name__)

LIST_PREFETCH = 10  # list pages read ahead while deals and companies are fetched
#: `hs_merged_object_ids`: the ids merged into a record (`;`-separated), so the engine can
#: fold their profiles into its one.
ALWAYS = ("email", "lastmodifieddate", "hs_merged_object_ids")


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
        overlap_s: How far before a search cursor an incremental pull starts.
        search_page: Search page size (<= 200).
        rates: The client's current call rates, to choose between search and a list scan.
        split: Full pulls read from both ends at once (`connectors.hubspot.split`).
    """

    def __init__(
        self,
        client: HubSpotClient,
        plan: PullPlan,
        clock: Callable[[], datetime],
        overlap_s: float,
        search_page: int = SEARCH_PAGE_MAX,
        rates: Callable[[], ReadRates] = ReadRates,
        *,
        split: bool = False,
    ) -> None:
        self._client = client
        self._plan = plan
        self._clock = clock
        self._overlap_ms = int(overlap_s * 1000)
        self._search_page = search_page
        self._rates = rates
        self._split = split
        #: Whether the last full pull read through search (which lags): contacts it did not
        #: see are read again by id before they count as gone.
        self._confirm_unseen = False

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Full when asked or when there is no cursor yet, else incremental."""
        start_ms = int(self._clock().timestamp() * 1000)
        enricher = Enricher(self._client, self._plan.deal_fields, self._plan.company_properties)
        if full or not cursor:
            yield from self._full(enricher, start_ms)
        else:
            yield from self._incremental(enricher, PullCursor.parse(cursor), start_ms)

    def _full(self, enricher: Enricher, start_ms: int) -> Iterator[Page]:
        split = None
        if self._split:
            split = SplitRead(
                self._list_pages, self._client.search_contacts, self._plan.properties,
                self._search_page,
            )  # fmt: skip
        self._confirm_unseen = False
        pages = split.pages() if split is not None else self._list_pages()
        for results in prefetch(pages, LIST_PREFETCH, "hubspot-list-pages"):
            ready = enricher.feed([Item.of(r) for r in results])
            if ready:
                yield Page([self._record(i) for i in ready], None)
        if split is not None and split.searched:
            # Search lags: the next run reaches back an overlap, and the contacts not seen
            # are read again by id before they count as gone.
            self._confirm_unseen = True
            done = PullCursor(start_ms)
        else:
            # Everything changed before the start has been read from the list, which does
            # not lag: the next run starts exactly there.
            done = PullCursor.listed(start_ms)
        yield Page([self._record(i) for i in enricher.finish()], done.text())

    def still_present(self, ids: Sequence[str]) -> Iterator[Page]:
        """Of the contacts the last full pull did not see, those that exist after all.

        Only after a pull that read through search (which may miss a contact edited moments
        before); after a list walk every unseen contact is gone and nothing is read. Batch
        reads of 100 by id, enriched like any other page; an id that now reads as another
        record (merged away) is not present.
        """
        if not self._confirm_unseen:
            return
        enricher = Enricher(self._client, self._plan.deal_fields, self._plan.company_properties)
        asked = set(ids)
        for start in range(0, len(ids), ASSOC_BATCH_MAX):
            found = self._read_contacts(ids[start : start + ASSOC_BATCH_MAX])
            ready = enricher.feed([i for i in found if str(i.raw.get("id")) in asked])
            if ready:
                yield Page([self._record(i) for i in ready], None)
        yield Page([self._record(i) for i in enricher.finish()], None)

    def _list_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Raw contacts of each list page, following `paging.next.after`."""

        def fetch(cursor: PageToken) -> Any:
            return self._client.list_contacts(cursor.token, self._plan.properties, PAGE_MAX)

        for page in paginate(LIST_CONTACTS, fetch, PAGING):
            yield list(page.data.get("results") or [])

    def _incremental(self, enricher: Enricher, cursor: PullCursor, start_ms: int) -> Iterator[Page]:
        anchor = cursor.contact_anchor(start_ms, self._overlap_ms)
        # Deals and companies are only ever found through search: their window always keeps
        # the overlap.
        related_anchor = cursor.search_anchor(start_ms, self._overlap_ms)
        window = SearchWindow(anchor, self._search_page)

        def fetch(query: SearchQuery) -> Any:
            return self._client.search_contacts(self._search_body(query, start_ms, window.limit))

        pages = paginate(SEARCH_CONTACTS, fetch, window)
        first = next(pages)  # a read always has a first page
        if self._scan_is_quicker(first.data, start_ms):
            yield from self._scan(enricher, anchor, related_anchor, start_ms)
        else:
            found = chain([first], pages)
            yield from self._search(enricher, window, found, cursor, related_anchor, start_ms)

    def _search(
        self,
        enricher: Enricher,
        window: SearchWindow,
        pages: Iterator[Fetched[SearchQuery]],
        cursor: PullCursor,
        related_anchor: int,
        start_ms: int,
    ) -> Iterator[Page]:
        """Hand on the search's contacts; mid-run cursors stop at the oldest contact held."""
        ready: list[Item] = []
        seen: set[str] = set()
        for page in pages:
            items = [Item.of(r) for r in window.unseen(page.position, page.data)]
            seen.update(str(i.raw.get("id")) for i in items)
            ready = enricher.feed(items)
            if page.last:
                break
            held = enricher.held_min_modified()
            safe = window.top_ms if held is None else min(held, window.top_ms)
            if ready:
                mid = cursor.after_search(min(safe, start_ms))
                yield Page([self._record(i) for i in ready], mid.text())
        ready += self._related(enricher, seen, related_anchor, start_ms)
        ready += enricher.finish()
        # The next run starts an overlap earlier (search lags), but not before a list walk.
        yield Page([self._record(i) for i in ready], cursor.after_search(start_ms).text())

    def _scan_is_quicker(self, first: Any, start_ms: int) -> bool:
        """Whether walking the list beats reading the rest of the search's `total` matches."""
        matches = int(first.get("total") or 0)
        rates = self._rates()
        if not worth_counting(matches, self._search_page, rates):
            return False
        contacts = self._count_contacts(start_ms)
        scan = prefer_scan(matches, contacts, self._search_page, rates)
        log.info(
            Event.HUBSPOT_PULL_METHOD,
            method="list_scan" if scan else "search",
            changed=matches,
            contacts=contacts,
        )
        return scan

    def _count_contacts(self, start_ms: int) -> int:
        """The portal's contact count: one search for `total`, with a single result."""
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "LTE",
                            "value": str(start_ms),
                        }
                    ]
                }
            ],
            "properties": ["lastmodifieddate"],
            "limit": 1,
        }
        return int(self._client.search_contacts(body).get("total") or 0)

    def _scan(
        self, enricher: Enricher, anchor: int, related_anchor: int, start_ms: int
    ) -> Iterator[Page]:
        """Walk the list; hand on the contacts changed since `anchor` (with their enrichment).

        Contacts changed after `start_ms` are handed on too (the next run reads them again).
        Mid-scan pages carry no cursor: the list is in id order, not time order. This walk is
        never split (`connectors.hubspot.split`): search lags, so a split walk would leave a
        cursor that reaches back an overlap window, and the run after it would read the whole
        echo again.
        """
        seen: set[str] = set()
        with ThreadPoolExecutor(1, thread_name_prefix="hubspot-related") as pool:
            # Deal and company changes are found by search, on search's own budget, so they
            # are looked for while the walk goes on, not after it (6 s of a 100k echo).
            touched = pool.submit(
                contextvars.copy_context().run, self._touched, related_anchor, start_ms
            )
            for results in prefetch(self._list_pages(), LIST_PREFETCH, "hubspot-list-scan"):
                items = [i for i in (Item.of(r) for r in results) if i.modified_ms >= anchor]
                seen.update(str(i.raw.get("id")) for i in items)
                ready = enricher.feed(items)
                if ready:
                    yield Page([self._record(i) for i in ready], None)
            ready = enricher.feed(self._read_contacts(sorted(touched.result() - seen)))
        ready += enricher.finish()
        yield Page([self._record(i) for i in ready], PullCursor.listed(start_ms).text())

    def _related(
        self, enricher: Enricher, seen: set[str], since_ms: int, start_ms: int
    ) -> list[Item]:
        """Contacts of deals and companies changed in the window, not read already.

        They are read again so revenue and company fields do not wait for the nightly full
        pull.
        """
        touched = self._touched(since_ms, start_ms)
        return enricher.feed(self._read_contacts(sorted(touched - seen)))

    def _touched(self, since_ms: int, start_ms: int) -> set[str]:
        """Ids of the contacts whose deals or companies changed in the window."""
        related = self._related_types()
        if not related:
            return set()
        return touched_contacts(self._client, related, since_ms, start_ms)

    def _related_types(self) -> list[str]:
        """The associated objects whose changes matter: those the field map reads."""
        types = []
        if self._plan.deal_fields:
            types.append("deals")
        if self._plan.company_properties:
            types.append("companies")
        return types

    def _read_contacts(self, ids: Sequence[str]) -> list[Item]:
        """Contacts by id, 100 per batch read; deleted or merged-away ids are just absent."""
        out: list[Item] = []
        for start in range(0, len(ids), BATCH_MAX):
            data = self._client.read_contacts(ids[start : start + BATCH_MAX], self._plan.properties)
            out += [Item.of(r) for r in data.get("results") or [] if isinstance(r, dict)]
        return out

    def _search_body(self, query: SearchQuery, start_ms: int, limit: int) -> dict[str, Any]:
        prop = "lastmodifieddate"
        return {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": prop, "operator": "GTE", "value": str(query.anchor)},
                        {"propertyName": prop, "operator": "LTE", "value": str(start_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": self._plan.properties,
            "limit": limit,
            "after": str(query.after),
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
            merged_ids=_merged_ids(props.get("hs_merged_object_ids")),
        )  # fmt: skip


def _merged_ids(value: Any) -> tuple[str, ...]:
    """`hs_merged_object_ids` (`"12;34"`) as ids; empty when unset."""
    if not isinstance(value, str):
        return ()
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
