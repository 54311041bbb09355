"""HubSpot's published limits, each next to its source (sections of api-facts.md).

The HTTP layer only knows budget mechanisms; the figures that drive them for HubSpot live here,
so a change in HubSpot's limits is one edit in the HubSpot package.
"""

from __future__ import annotations

from syncd.http import RateHeaders

#: Private apps on Professional and Enterprise: 190 calls per rolling 10 s (api-facts 1.4). Only
#: the starting guess: `HeaderBudget` adopts what the rate-limit headers advertise.
PER_10S = 190
WINDOW_S = 10.0
#: Search: 5 per second in current docs, 4 in the older changelog; the stricter one, since
#: search answers carry no rate-limit headers to correct a guess (api-facts 1.4).
SEARCH_PER_S = 4
#: Headers that advertise the rolling window on every answer except search (api-facts 1.4).
RATE_HEADERS = RateHeaders(
    limit="X-HubSpot-RateLimit-Max",
    remaining="X-HubSpot-RateLimit-Remaining",
    interval_ms="X-HubSpot-RateLimit-Interval-Milliseconds",
)

#: `GET /crm/v3/objects/contacts`: at most 100 per page (api-facts 1.2).
PAGE_MAX = 100
#: Search: `limit` up to 200, and no more than 10,000 results per query (api-facts 1.2).
SEARCH_PAGE_MAX = 200
SEARCH_CAP = 10_000
#: Batch read and batch update: 100 inputs per call (api-facts 1.2).
BATCH_MAX = 100
#: Associations v4 batch read: 1,000 inputs per call since 2025-02-10 (api-facts 1.4, 1.7).
ASSOC_BATCH_MAX = 1000
#: List memberships read: at most 250 per page (api-facts 1.3).
MEMBERSHIPS_PAGE_MAX = 250
#: List membership writes have no documented maximum (api-facts 1.3); 400/413 splits a chunk.
MEMBERSHIP_CHUNK = 1000
