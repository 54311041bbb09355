"""The Mailchimp SDK's success-path quirks (api-facts 3.2), mocked with `responses`."""

from __future__ import annotations

import pytest
import responses

from connectors.base import FieldMap, Member
from connectors.mailchimp import MailchimpConnector, base_url_for
from syncd.errors import ConfigError, RejectedRecordError
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
    with pytest.raises(ConfigError, match="HTTP 403"):
        connector().check()


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
