"""A list or tag a person deleted: made again, or refused with `target_deleted_kept` when the
caller says to leave it deleted (real SDKs, sandbox over loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from connectors.base import Connector, FieldMap, Target
from connectors.hubspot import HubSpotConnector
from connectors.mailchimp import MailchimpConnector
from syncd.errors import SyncdError
from syncd.failures import Reason
from syncd.http import RetrySettings
from syncd.sandbox import Limits, Sandbox
from syncd.targets import TargetKind

PERSON = {"X-Sandbox-Actor": "person"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, seed=5, limits=Limits.relaxed()) as sandbox:
        yield sandbox


def hubspot(sb: Sandbox) -> tuple[Connector, Target]:
    c = HubSpotConnector(
        access_token=sb.hubspot_token,
        base_url=sb.hubspot_url,
        field_map=FieldMap(),
        retry=RetrySettings.immediate(),
    )
    return c, Target(TargetKind.HUBSPOT_LIST, "gone", "syncd: gone")


def mailchimp(sb: Sandbox) -> tuple[Connector, Target]:
    c = MailchimpConnector(
        api_key=sb.mailchimp_key,
        base_url=sb.mailchimp_url,
        audience_id=sb.audience_id,
        field_map=FieldMap(),
        retry=RetrySettings.immediate(),
    )
    return c, Target(TargetKind.MAILCHIMP_TAG, "gone", "syncd:gone")


def delete(sb: Sandbox, kind: TargetKind, remote_id: str) -> None:
    if kind is TargetKind.HUBSPOT_LIST:
        r = requests.delete(
            f"{sb.hubspot_url}/crm/v3/lists/{remote_id}",
            headers={"Authorization": f"Bearer {sb.hubspot_token}", **PERSON},
            timeout=10,
        )
    else:
        r = requests.delete(
            f"{sb.mailchimp_url}/lists/{sb.audience_id}/segments/{remote_id}",
            auth=("person", sb.mailchimp_key),
            headers=PERSON,
            timeout=10,
        )
    assert r.status_code == 204, r.text


@pytest.mark.parametrize("make", [hubspot, mailchimp], ids=["hubspot", "mailchimp"])
def test_a_deleted_target_is_made_again_or_refused_as_kept_deleted(
    sb: Sandbox, make: Callable[[Sandbox], tuple[Connector, Target]]
) -> None:
    connector, target = make(sb)
    first = connector.ensure_target(target)
    delete(sb, target.kind, first)
    keep = Target(target.kind, target.key, target.name, first, recreate=False)
    with pytest.raises(SyncdError) as caught:
        connector.ensure_target(keep)
    assert caught.value.reason is Reason.TARGET_DELETED_KEPT
    again = connector.ensure_target(Target(target.kind, target.key, target.name, first))
    assert again != first
    connector.close()
