"""The Mailchimp SDK's success-path quirks (api-facts 3.2), mocked with `responses`."""

from __future__ import annotations

import pytest
import responses

from connectors.base import FieldMap, Member, Target, TargetKind
from connectors.mailchimp import MailchimpConnector, base_url_for
from syncd.errors import ConfigError, RejectedRecordError
from syncd.failures import Reason
from syncd.http import RetrySettings

BASE = "https://us9.api.mailchimp.com/3.0"
KEY = "0123456789abcdef0123456789abcdef-us9"


def connector() -> MailchimpConnector:
    return MailchimpConnector(
        api_key=KEY, audience_id="aud1", field_map=FieldMap(), retry=RetrySettings.immediate()
    )


def test_base_url_comes_from_the_key_datacenter() -> None:
    assert base_url_for(KEY) == BASE
    assert base_url_for(KEY, "http://127.0.0.1:1/3.0/") == "http://127.0.0.1:1/3.0"
    with pytest.raises(ConfigError):
        base_url_for("no-suffix-")


@responses.activate
def test_an_error_without_content_type_is_raised_not_returned() -> None:
    responses.get(f"{BASE}/ping", status=403, body=b"")
    with pytest.raises(ConfigError, match="HTTP 403") as info:
        connector().check()
    assert info.value.reason is Reason.SCOPE_MISSING
    assert "firewall" in str(info.value)  # Mailchimp's wording of the advice


@responses.activate
def test_a_missing_audience_is_a_configuration_error() -> None:
    responses.get(f"{BASE}/ping", json={"health_status": "ok"})
    responses.get(f"{BASE}/lists/aud1", status=404, json={"title": "Resource Not Found"})
    with pytest.raises(ConfigError, match="audience 'aud1' does not exist") as info:
        connector().check()
    assert info.value.reason is Reason.AUDIENCE_MISSING
    assert "mailchimp.audience_id" in str(info.value)


@responses.activate
def test_a_non_json_page_is_retried() -> None:
    responses.get(f"{BASE}/ping", status=200, body="<html>502</html>", content_type="text/html")
    responses.get(f"{BASE}/ping", status=200, json={"health_status": "ok"})
    responses.get(f"{BASE}/lists/aud1", status=200, json={"id": "aud1"})
    c = connector()
    c.check()
    assert c.stats.api("mailchimp").failures == 1


@responses.activate
def test_problem_json_errors_are_classified_and_redacted() -> None:
    body = {"title": "Invalid Resource", "status": 400, "detail": "ann@example.com is fake"}
    responses.get(f"{BASE}/ping", status=400, json=body, content_type="application/problem+json")
    with pytest.raises(RejectedRecordError) as info:
        connector().check()
    assert "Invalid Resource" in str(info.value) and "ann@example.com" not in str(info.value)


@responses.activate
def test_an_empty_success_is_an_empty_object_and_paths_never_carry_emails() -> None:
    responses.post(f"{BASE}/lists/aud1/segments/5", status=204)
    result = connector().apply("5", [Member("h1", "server@myserver.com")], [])
    assert result.counts() == {"applied": 1}
    assert "myserver" not in responses.calls[0].request.url  # the body carries the address
    assert "server@myserver.com" in str(responses.calls[0].request.body)


TAG = Target(TargetKind.MAILCHIMP_TAG, "vip", "syncd:vip")
SEGMENTS = f"{BASE}/lists/aud1/segments"


def segments(*segs: dict[str, object]) -> dict[str, object]:
    return {"segments": list(segs), "total_items": len(segs)}


@responses.activate
def test_a_tag_create_answered_with_a_5xx_is_found_by_name_not_created_twice() -> None:
    responses.get(SEGMENTS, json=segments())  # before the create: no such tag
    responses.get(SEGMENTS, json=segments({"id": 41, "name": "syncd:vip", "type": "static"}))
    responses.post(SEGMENTS, status=502, body=b"", content_type="text/html")
    assert connector().ensure_target(TAG) == "41"
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1


@responses.activate
def test_a_tag_name_taken_on_a_clean_create_is_a_configuration_error() -> None:
    taken = {
        "title": "Invalid Resource",
        "status": 400,
        "detail": "Sorry, that tag already exists.",
    }
    responses.get(SEGMENTS, json=segments())
    responses.post(SEGMENTS, status=400, json=taken, content_type="application/problem+json")
    with pytest.raises(ConfigError) as info:
        connector().ensure_target(TAG)
    assert info.value.hint is not None and "not the one syncd created" in info.value.hint
    assert info.value.reason is Reason.NAME_TAKEN
    assert len(responses.calls) == 2  # one lookup, one create, no adoption


@responses.activate
def test_another_refused_tag_create_is_a_configuration_error_with_the_vendor_reason() -> None:
    refused = {"title": "Invalid Resource", "status": 400, "detail": "Name is too long."}
    responses.get(SEGMENTS, json=segments())
    responses.post(SEGMENTS, status=400, json=refused, content_type="application/problem+json")
    with pytest.raises(ConfigError, match="Name is too long") as info:
        connector().ensure_target(TAG)
    assert "not the one syncd created" not in str(info.value)
    assert info.value.reason is Reason.CREATE_REFUSED
