"""`HubSpotConnector`: the protocol of `connectors.base`, plus syncd's contact properties."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from connectors.base import (
    ApplyResult,
    FieldMap,
    Member,
    Page,
    PropertyUpdate,
    Target,
)
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.limits import PER_10S, RATE_HEADERS, SEARCH_PER_S, WINDOW_S
from connectors.hubspot.method import ReadRates
from connectors.hubspot.pull import Puller, PullPlan
from connectors.hubspot.write import HubSpotWriter
from syncd.http import ApiStats, HeaderBudget, RetrySettings, RollingWindow
from syncd.redact import REDACTOR
from syncd.targets import TargetKind

#: How far before a search run's start the next incremental pull starts reading contacts.
#: HubSpot says only that new or updated objects "may take a few moments" to appear in search
#: (api-facts 1.2) and publishes no bound, so the window is set well past "moments": 5 minutes.
#: It is cheap to be generous: the window never reaches back past the start of a run that
#: walked the list (no lag there; `connectors.hubspot.cursor`), so it re-reads only what
#: others changed in the minutes before a search run, never syncd's own echo again.
DEFAULT_OVERLAP_S = 300.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HubSpotConnector:
    """Reads contacts from HubSpot and writes list memberships and contact properties.

    Args:
        access_token: Private-app token (registered with the redactor).
        field_map: Which properties to read and their canonical names (`FieldMap.hubspot`).
        base_url: API root (`https://api.hubapi.com`, or the sandbox).
        retry: Retry and timeout settings (`RetrySettings.immediate()` in tests).
        stats: Call counters; pass one `ApiStats` to share it with other connectors.
        per_10s: Starting guess of the rolling limit until HubSpot's headers say otherwise.
        search_per_s: Client-side search limit (search sends no rate headers).
        reserve: Calls per window left for other clients of the same app.
        overlap_s: How far before a search run's start the next incremental pull starts
            (search indexing lag; see `DEFAULT_OVERLAP_S`).
        clock: Current time; a pull's start time caps its cursor.
        split_reads: Full pulls read the list and search at once, from both ends
            (`connectors.hubspot.split`).
    """

    name = "hubspot"

    def __init__(
        self,
        *,
        access_token: str,
        field_map: FieldMap,
        base_url: str = "https://api.hubapi.com",
        retry: RetrySettings | None = None,
        stats: ApiStats | None = None,
        per_10s: int = PER_10S,
        search_per_s: int = SEARCH_PER_S,
        reserve: int = 0,
        overlap_s: float = DEFAULT_OVERLAP_S,
        clock: Callable[[], datetime] = _utcnow,
        split_reads: bool = True,
    ) -> None:
        REDACTOR.register([access_token])
        self.stats = stats or ApiStats()
        self.retry = retry or RetrySettings()
        budget = HeaderBudget(per_10s, WINDOW_S, headers=RATE_HEADERS, reserve=reserve)
        search_limiter = RollingWindow(search_per_s, 1.0)
        self.client = HubSpotClient(
            base_url,
            access_token,
            self.retry,
            self.stats,
            budget=budget,
            search_limiter=search_limiter,
        )

        def rates() -> ReadRates:
            # The budget's limit follows HubSpot's headers once an answer has carried them.
            return ReadRates(
                budget.limit / budget.window_s, search_limiter.limit / search_limiter.window_s
            )

        plan = PullPlan.of(field_map.hubspot)
        self._puller = Puller(self.client, plan, clock, overlap_s, rates=rates, split=split_reads)
        self._writer = HubSpotWriter(self.client)

    def check(self) -> None:
        """Read one contact: proves the token, the contacts scope and the network path."""
        self.client.list_contacts(None, ["email"], 1)

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Full pull through the list endpoint; incremental through search or a list scan."""
        return self._puller.pull(cursor, full=full)

    def ensure_target(self, target: Target) -> str:
        """Find or create the MANUAL list of `target`; returns its list id."""
        if target.kind is not TargetKind.HUBSPOT_LIST:
            raise ValueError(f"HubSpot cannot hold a {target.kind}")
        return self._writer.ensure_list(target)

    def still_present(self, ids: Sequence[str]) -> Iterator[Page]:
        """The contacts among `ids` that exist after all (`Puller.still_present`)."""
        return self._puller.still_present(ids)

    def read_members(self, remote_id: str) -> Iterator[str]:
        """Record ids on the list."""
        return self._writer.read_members(remote_id)

    def apply(
        self, remote_id: str, adds: Sequence[Member], removes: Sequence[Member]
    ) -> ApplyResult:
        """Membership changes on one list, one outcome per member."""
        return self._writer.apply(remote_id, adds, removes)

    def ensure_properties(self, segment_keys: Sequence[str], stage_keys: Sequence[str]) -> None:
        """Create `syncd_segments` / `syncd_journey_stage` if missing; add missing options."""
        self._writer.ensure_properties(segment_keys, stage_keys)

    def write_properties(self, updates: Sequence[PropertyUpdate]) -> ApplyResult:
        """Property values, 100 records per call, one outcome per record."""
        return self._writer.write_properties(updates)

    def close(self) -> None:
        """Nothing to release explicitly: the SDK's pools close with the process."""
