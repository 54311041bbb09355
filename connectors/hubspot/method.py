"""Which way an incremental pull reads its contacts: search or a scan of the list endpoint.

After a run that wrote `syncd_segments` / `syncd_journey_stage`, HubSpot bumps every written
contact's `lastmodifieddate`, so the next incremental pull finds most of the portal changed
(syncd's own echo). Search reads 200 per call at its own rate (4 per second); the list endpoint
reads 100 per call at the general rate (190 per 10 s), but must walk every contact
(api-facts 1.2, 1.4). The first search page's `total` says how many changed; when reading the
rest of them by search would take longer than walking the whole list, the pull walks the list
and hands on only the contacts changed in its window.

Both estimates are calls divided by the steady rate of the limiter that paces them (the rates
the connector's budgets hold, which follow HubSpot's headers). The deal and company reads of the
changed contacts are the same calls either way but are left out of the estimate, although they
run beside search on the other limit and share the walk's: with them the walk wins only when
more of the portal changed (about 2/3 instead of 2/5 at 20k with the seeded deals). Between
the two the walk is chosen though search would be a little quicker; the echo of a whole
portal, the case this is for, is well past both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from connectors.hubspot.limits import PAGE_MAX, PER_10S, SEARCH_PER_S, WINDOW_S


@dataclass(frozen=True, slots=True)
class ReadRates:
    """Calls per second the client may make.

    Attributes:
        general_per_s: Every call but search (the rolling window's limit over its length).
        search_per_s: Search calls.
    """

    general_per_s: float = PER_10S / WINDOW_S
    search_per_s: float = float(SEARCH_PER_S)


def search_seconds(matches: int, page_size: int, rates: ReadRates) -> float:
    """Seconds to read the search pages after the first one (already read)."""
    pages_left = max(0, math.ceil(matches / page_size) - 1)
    return pages_left / rates.search_per_s


def scan_seconds(contacts: int, rates: ReadRates) -> float:
    """Seconds to walk every contact through the list endpoint, 100 per page."""
    return max(1, math.ceil(contacts / PAGE_MAX)) / rates.general_per_s


def worth_counting(matches: int, page_size: int, rates: ReadRates) -> bool:
    """Whether asking search for the portal's size (one more search call) can pay off.

    The portal holds at least `matches` contacts, so the scan takes at least
    `scan_seconds(matches)`; the count is worth its call only if even that best case, plus
    the call itself, beats reading the rest by search.
    """
    best_scan = scan_seconds(matches, rates) + 1 / rates.search_per_s
    return best_scan < search_seconds(matches, page_size, rates)


def prefer_scan(matches: int, contacts: int, page_size: int, rates: ReadRates) -> bool:
    """True when walking all `contacts` beats reading the remaining `matches` by search."""
    return scan_seconds(contacts, rates) < search_seconds(matches, page_size, rates)
