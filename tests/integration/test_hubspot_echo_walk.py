"""The incremental list walk (the echo's method) and the deal and company changes beside it.

When most of the portal changed since the last run, the pull walks the list and hands on what
changed. A contact the walk skips (unchanged itself) whose deal changed is still read again:
deals and companies changed in the window are searched on search's own budget while the walk
goes on, and their contacts that the walk did not hand on are read by id at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import FieldMap
from connectors.hubspot import HubSpotConnector
from syncd.http import RetrySettings
from syncd.sandbox import Sandbox
from tests.support.sandboxes import as_person, start_sandbox

CONTACTS = 2_000  # 10 search pages against 20 list pages: the walk is the quicker method
FIELDS = FieldMap.from_paths(
    hubspot={"email": "email", "first_name": "firstname", "deals_won": "deals.won_count"}
)
LIST = "GET /crm/v3/objects/contacts"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with start_sandbox(CONTACTS, seed=4) as sandbox:
        yield sandbox


def test_a_deal_edited_beside_the_walk_reaches_a_contact_the_walk_skipped(sb: Sandbox) -> None:
    c = HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FIELDS,
        retry=RetrySettings.immediate(),
        split_reads=False,
    )
    pages = list(c.pull(None, full=True))
    cursor = pages[-1].cursor
    before = {r.source_id: r.fields for p in pages for r in p.records}
    with sb.state_lock():
        hs = sb.hubspot
        ids = sorted(hs.contacts)
        skipped, deal_id = next(
            (cid, d)
            for cid in ids
            for d in hs.contact_deals.get(cid, [])
            if hs.deals[d].props.get("dealstage") != "closedwon"
        )
    changed = [i for i in ids if i != skipped]
    for start in range(0, len(changed), 100):  # a person edits everyone else
        chunk = changed[start : start + 100]
        inputs = [{"id": str(i), "properties": {"firstname": "Echo"}} for i in chunk]
        r = as_person(sb, "POST", "/crm/v3/objects/contacts/batch/update", {"inputs": inputs})
        assert r.status_code == 200, r.text
    r = as_person(sb, "PATCH", f"/crm/v3/objects/deals/{deal_id}", {
        "properties": {"dealstage": "closedwon", "amount": "1000"}
    })  # fmt: skip
    assert r.status_code == 200, r.text

    walks_before = c.stats.endpoints("hubspot")[LIST].api_calls
    got = {r.source_id: r.fields for p in c.pull(cursor, full=False) for r in p.records}
    assert c.stats.endpoints("hubspot")[LIST].api_calls - walks_before == CONTACTS // 100
    assert {str(i) for i in changed} <= set(got)
    won = float(before[str(skipped)].get("deals_won") or 0)
    assert float(got[str(skipped)]["deals_won"]) == won + 1  # read by id after the walk
