"""HubSpot only: association reads are paged to the end, so deal figures are never undercounted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import FieldMap
from connectors.hubspot import HubSpotConnector
from syncd.errors import InternalError
from syncd.http import RetrySettings
from syncd.sandbox import Limits, Sandbox

FIELDS = FieldMap.from_paths(
    hubspot={
        "email": "email",
        "deals_won": "deals.won_count",
        "revenue": "deals.won_amount",
        "industry": "company.industry",
    }
)
PAGE = 2  # associations per input and page: smaller than what the busiest contacts hold


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=150, seed=5, limits=Limits.relaxed(hubspot_assoc_page=PAGE)) as sandbox:
        yield sandbox


def connector(sb: Sandbox) -> HubSpotConnector:
    return HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        search_per_s=10_000,
    )


def _won(sb: Sandbox, cid: int) -> tuple[int, float]:
    deals = [sb.hubspot.deals[d] for d in sb.hubspot.contact_deals.get(cid, [])]
    won = [d for d in deals if d.props.get("dealstage") == "closedwon"]
    return len(won), sum(float(d.props.get("amount") or 0) for d in won)


def test_a_contact_with_more_deals_than_a_page_gets_every_deal_counted(sb: Sandbox) -> None:
    with sb.state_lock():
        won_deals = [i for i, d in sb.hubspot.deals.items() if d.props["dealstage"] == "closedwon"]
        busy = sb.hubspot.contact_ids[5:8]
        for n, cid in enumerate(busy):  # 7, 8 and 9 deals: three to five pages each
            sb.hubspot.contact_deals[cid] = won_deals[n * 10 : n * 10 + 7 + n]
    assert all(len(sb.hubspot.contact_deals[c]) > PAGE for c in busy)
    records = {r.source_id: r for page in connector(sb).pull(None, full=True) for r in page.records}
    for cid in sb.hubspot.contact_ids:
        count, amount = _won(sb, cid)
        rec = records[str(cid)]
        assert rec.fields["deals_won"] == count, cid
        assert rec.fields["revenue"] == pytest.approx(amount), cid
    assert records[str(busy[2])].fields["deals_won"] == 9


def test_a_cursor_that_comes_back_unchanged_stops_the_read(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = connector(sb)
    client = c.client  # type: ignore[attr-defined]
    real = client.read_associations

    def stuck(to_type: str, ids: Any, after: Any = None) -> Any:
        return real(to_type, ids, None)  # ignores the cursor: the same page again and again

    with sb.state_lock():
        cid = sb.hubspot.contact_ids[3]
        sb.hubspot.contact_deals[cid] = list(sb.hubspot.deals)[:5]
    monkeypatch.setattr(client, "read_associations", stuck)
    with pytest.raises(InternalError, match="pointed back"):
        for _ in c.pull(None, full=True):
            pass
