"""The HubSpot pull's cursor: where the next run starts, and how far back search lag reaches.

Search indexes edits late ("may take a few moments", api-facts 1.2), so a run that read
through search may have missed edits made shortly before its start: the next run starts an
overlap window earlier. The list endpoint has no such lag (HubSpot documents the delay for
search only; the list reads the records themselves), so every edit before the start of a run
that walked the list (a full pull, or an incremental list scan) has been read: the overlap
never needs to reach back past that point, however many search runs follow.

A run's start is syncd's clock, `lastmodifieddate` HubSpot's: the search overlap absorbs any
difference, a list walk's cursor does not. Hosts kept by NTP differ by milliseconds; a host
ahead of HubSpot by more could miss an edit made within that gap, on a page the walk had
already read, until the nightly full pull.

Text forms, so cursors stored by older versions keep their meaning:
- `1732800000000`, or an ISO time: a search cursor (the only form older versions wrote);
- `list:1732800000000`: the start of a run that walked the list endpoint;
- `1732800300000 list:1732800000000`: a search run's cursor, after a list walk whose start
  bounds the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.hubspot.enrich import iso_ms

LIST_PREFIX = "list:"


@dataclass(frozen=True, slots=True)
class PullCursor:
    """Where the next incremental pull starts.

    Attributes:
        ms: Epoch milliseconds: a run's start, or the newest edit handed on mid-run.
        lag_free_ms: Every edit before this time was read from the list endpoint (0: none
            known); never later than `ms`.
    """

    ms: int
    lag_free_ms: int = 0

    @classmethod
    def listed(cls, start_ms: int) -> PullCursor:
        """The cursor after a walk of the whole list that started at `start_ms`."""
        return cls(start_ms, start_ms)

    @classmethod
    def parse(cls, text: str) -> PullCursor:
        """A stored cursor; digits and ISO times (older versions) are search cursors."""
        head, _, tail = text.strip().partition(" ")
        if head.startswith(LIST_PREFIX):
            return cls.listed(_ms(head[len(LIST_PREFIX) :]))
        ms = _ms(head)
        if tail.startswith(LIST_PREFIX):
            return cls(ms, min(ms, _ms(tail[len(LIST_PREFIX) :])))
        return cls(ms)

    def text(self) -> str:
        """The stored form; without a list walk it stays plain digits, as older versions wrote."""
        if self.lag_free_ms <= 0:
            return str(self.ms)
        if self.lag_free_ms >= self.ms:
            return f"{LIST_PREFIX}{self.ms}"
        return f"{self.ms} {LIST_PREFIX}{self.lag_free_ms}"

    def after_search(self, ms: int) -> PullCursor:
        """The cursor of a search run that read up to `ms`: the list walk's bound stays."""
        return PullCursor(ms, min(self.lag_free_ms, ms))

    def search_anchor(self, start_ms: int, overlap_ms: int) -> int:
        """Lower bound for what only search finds (deals, companies): the whole overlap."""
        return max(0, min(self.ms, start_ms) - overlap_ms)

    def contact_anchor(self, start_ms: int, overlap_ms: int) -> int:
        """Lower bound of the contacts to read: the cursor less the overlap, not past a walk."""
        walked = min(self.lag_free_ms, self.ms, start_ms)
        return max(self.search_anchor(start_ms, overlap_ms), walked)


def _ms(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return iso_ms(text)
