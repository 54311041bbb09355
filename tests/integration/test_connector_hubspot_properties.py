"""HubSpot only: syncd's own contact properties, created if missing and written in batches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import FieldMap, PropertyUpdate
from connectors.hubspot import HubSpotConnector
from syncd.failures import Reason
from syncd.http import RetrySettings
from syncd.sandbox import Limits, Sandbox


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=250, seed=5, limits=Limits.relaxed()) as sandbox:
        yield sandbox


def connector(sb: Sandbox) -> HubSpotConnector:
    return HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FieldMap.from_paths(hubspot={"email": "email"}),
        retry=RetrySettings.immediate(),
    )


def test_properties_are_created_once_with_every_option(sb: Sandbox) -> None:
    c = connector(sb)
    c.ensure_properties(["trial-to-paid", "vip"], ["customer", "trial", "prospect"])
    segments = sb.hubspot.properties["syncd_segments"]
    stage = sb.hubspot.properties["syncd_journey_stage"]
    assert (segments["type"], segments["fieldType"]) == ("enumeration", "checkbox")
    assert [o["value"] for o in segments["options"]] == ["trial-to-paid", "vip"]
    assert [o["value"] for o in stage["options"]] == ["customer", "trial", "prospect"]
    writes = c.stats.api("hubspot").writes
    c.ensure_properties(["trial-to-paid", "vip"], ["customer", "trial", "prospect"])
    assert c.stats.api("hubspot").writes == writes  # nothing to change: reads only


def test_missing_options_are_added(sb: Sandbox) -> None:
    c = connector(sb)
    c.ensure_properties(["vip"], ["customer"])
    c.ensure_properties(["vip", "new-segment"], ["customer", "trial"])
    options = [o["value"] for o in sb.hubspot.properties["syncd_segments"]["options"]]
    assert options == ["vip", "new-segment"]


def test_values_are_written_in_batches_of_100_with_outcomes_per_record(sb: Sandbox) -> None:
    c = connector(sb)
    c.ensure_properties(["a", "b"], ["customer", "prospect"])
    ids = [str(i) for i in sorted(sb.hubspot.contacts)[:230]]
    updates = [
        PropertyUpdate(i, {"syncd_segments": "a;b", "syncd_journey_stage": "customer"}) for i in ids
    ]
    updates.append(PropertyUpdate("99999999", {"syncd_segments": "a"}))
    result = c.write_properties(updates)
    assert result.counts() == {"applied": 230, "rejected": 1}
    assert result.by_id()["99999999", "set"].reason is Reason.CONTACT_DELETED
    assert sb.hubspot.contacts[int(ids[0])].props["syncd_segments"] == "a;b"
    batch = c.stats.endpoints("hubspot")["POST /crm/v3/objects/contacts/batch/update"]
    assert batch.api_calls == 3  # 231 records, 100 per call


def test_a_refused_batch_is_split_down_to_the_bad_record(sb: Sandbox) -> None:
    c = connector(sb)
    c.ensure_properties(["a"], ["customer"])
    ids = [str(i) for i in sorted(sb.hubspot.contacts)[:8]]
    updates = [PropertyUpdate(i, {"syncd_journey_stage": "customer"}) for i in ids]
    updates[5] = PropertyUpdate(ids[5], {"syncd_journey_stage": "not-an-option"})
    result = c.write_properties(updates)
    outcomes = result.by_id()
    assert outcomes[ids[5], "set"].outcome == "rejected"
    assert "not-an-option" in (outcomes[ids[5], "set"].message or "")
    assert all(outcomes[i, "set"].outcome == "applied" for i in ids if i != ids[5])
    assert sb.hubspot.contacts[int(ids[0])].props["syncd_journey_stage"] == "customer"
