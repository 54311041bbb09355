"""Search indexing lag against the HubSpot pull: what the overlap window is for.

The sandbox hides a contact edited just before a search run from that run (`search_delay_ms`);
once the index has caught up, the next run reads it, because its search starts the overlap
window earlier. Without an overlap the edit would wait for the next full pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from connectors.base import FieldMap
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.cursor import PullCursor
from syncd.http import RetrySettings
from syncd.sandbox import Sandbox
from tests.support.sandboxes import start_sandbox

FIELDS = FieldMap.from_paths(hubspot={"email": "email", "first_name": "firstname"})
HOUR_MS = 3_600_000


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with start_sandbox(150, seed=5) as sandbox:
        yield sandbox


def connector(sb: Sandbox, overlap_s: float) -> HubSpotConnector:
    def clock() -> datetime:
        # The sandbox's own time, 2 ms on (one may be lost turning it into a float): a run then
        # starts strictly after every edit made before it, however close the two clocks are.
        return datetime.fromtimestamp((sb.hubspot.clock.now_ms() + 2) / 1000, UTC)

    return HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        overlap_s=overlap_s,
        clock=clock,
        split_reads=False,  # the full pull walks the list alone: its cursor is lag-free
    )


def pull(c: HubSpotConnector, cursor: str | None, *, full: bool = False) -> tuple[set[str], str]:
    ids: set[str] = set()
    last: str | None = None
    for page in c.pull(cursor, full=full):
        ids |= {r.source_id for r in page.records}
        last = page.cursor or last
    assert last is not None
    return ids, last


def person_edit(sb: Sandbox, cid: str, **props: Any) -> None:
    r = requests.patch(
        f"{sb.hubspot_url}/crm/v3/objects/contacts/{cid}",
        json={"properties": props},
        headers={"Authorization": f"Bearer {sb.hubspot_token}", "X-Sandbox-Actor": "person"},
        timeout=10,
    )
    r.raise_for_status()


def set_search_delay(sb: Sandbox, delay_ms: int) -> None:
    r = requests.post(
        f"{sb.base_url}/_sandbox/faults", json={"search_delay_ms": delay_ms}, timeout=10
    )
    r.raise_for_status()


@pytest.mark.parametrize(("overlap_s", "read_later"), [(300.0, True), (0.0, False)])
def test_an_edit_hidden_by_the_search_delay_is_read_by_the_next_run(
    sb: Sandbox, overlap_s: float, read_later: bool
) -> None:
    c = connector(sb, overlap_s)
    _, cursor = pull(c, None, full=True)
    walked = PullCursor.parse(cursor)
    assert walked.lag_free_ms == walked.ms  # the list does not lag
    cid = str(min(sb.hubspot.contacts))
    set_search_delay(sb, HOUR_MS)
    person_edit(sb, cid, firstname="Late")  # just before the next run, not yet indexed
    first, cursor = pull(c, cursor)
    assert cid not in first  # the search could not see it
    set_search_delay(sb, 0)  # the index has caught up
    second, _ = pull(c, cursor)
    # The overlap reaches back over the edit (but not before the full pull's start); with no
    # overlap, the edit would be lost until the next full pull.
    assert (cid in second) is read_later
    since_walk = {str(i) for i, o in sb.hubspot.contacts.items() if o.updated_ms >= walked.ms}
    assert second <= since_walk | {cid}
