"""The failure table, Retry-After parsing and the redacted errors built from SDK exceptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import urllib3
from hubspot.crm.contacts.exceptions import ApiException, UnauthorizedException
from mailchimp_marketing.api_client import ApiClientError

from connectors.hubspot.limits import RATE_HEADERS
from syncd.errors import ConfigError, InternalError, RejectedRecordError, TransientError
from syncd.http import (
    Action,
    HttpErrorInfo,
    action_for_status,
    parse_retry_after,
    retry_after_from_headers,
    status_of,
    to_error,
)
from syncd.redact import REDACTOR

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (400, Action.REJECT), (401, Action.CONFIG), (403, Action.CONFIG), (404, Action.REJECT),
        (405, Action.SYSTEM), (409, Action.REJECT), (413, Action.REJECT), (418, Action.REJECT),
        (423, Action.RETRY), (429, Action.RETRY), (477, Action.RETRY), (500, Action.RETRY),
        (501, Action.SYSTEM), (502, Action.RETRY), (503, Action.RETRY), (504, Action.RETRY),
        (522, Action.RETRY), (302, Action.SYSTEM),
    ],
)  # fmt: skip
def test_status_table(status: int, action: Action) -> None:
    assert action_for_status(status) is action


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("", None), (None, None), ("soon", None),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
    ],
)  # fmt: skip
def test_retry_after_takes_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_hubspot_interval_is_the_wait_when_the_window_is_spent() -> None:
    spent = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    assert retry_after_from_headers(spent, RATE_HEADERS) == 10.0
    assert retry_after_from_headers({**spent, "Retry-After": "3"}, RATE_HEADERS) == 3.0
    remaining = {**spent, "X-HubSpot-RateLimit-Remaining": "5"}
    assert retry_after_from_headers(remaining, RATE_HEADERS) is None
    assert retry_after_from_headers(None, RATE_HEADERS) is None


def test_an_api_without_rate_headers_waits_only_for_retry_after() -> None:
    spent = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    assert retry_after_from_headers(spent) is None
    assert retry_after_from_headers({**spent, "Retry-After": "3"}) == 3.0


def hubspot_exc(
    cls: type[ApiException],
    status: int,
    body: dict[str, object],
    headers: dict[str, str] | None = None,
) -> ApiException:
    resp = urllib3.response.HTTPResponse(
        body=json.dumps(body).encode(), status=status, headers=headers or {}, preload_content=True
    )
    return cls(http_resp=resp)


def test_a_hubspot_401_is_a_config_error_without_secrets() -> None:
    REDACTOR.register(["pat-na1-11111111-2222-3333-4444-555555555555"])
    exc = hubspot_exc(
        UnauthorizedException,
        401,
        {"message": "token pat-na1-11111111-2222-3333-4444-555555555555 for ann@example.com"},
    )
    err = to_error("hubspot", "GET /crm/v3/objects/contacts", exc)
    assert isinstance(err, ConfigError)
    text = str(err)
    assert "HTTP 401" in text and "SYNCD_HUBSPOT__ACCESS_TOKEN" in text
    assert "pat-na1" not in text and "ann@example.com" not in text
    assert status_of(err) == 401


def test_a_hubspot_429_is_transient_with_the_wait_it_asks_for() -> None:
    body = {"message": "You have reached your ten_secondly_rolling limit."}
    exc = hubspot_exc(ApiException, 429, body, {"Retry-After": "4"})
    err = to_error("hubspot", "POST /x", exc)
    assert isinstance(err, TransientError)
    assert err.retry_after_s == 4.0


def test_mailchimp_problem_json_is_read_for_the_message() -> None:
    body = {"title": "Invalid Resource", "status": 400, "detail": "bob@example.com looks fake"}
    err = to_error("mailchimp", "POST /lists/x", ApiClientError(json.dumps(body), 400))
    assert isinstance(err, RejectedRecordError)
    assert "Invalid Resource" in str(err) and "bob@example.com" not in str(err)


def test_transport_errors_are_transient_and_bugs_are_not_swallowed() -> None:
    refused = urllib3.exceptions.MaxRetryError(
        None, "/x", urllib3.exceptions.NewConnectionError(None, "refused")
    )  # type: ignore[arg-type]
    assert isinstance(to_error("hubspot", "GET /x", refused), TransientError)
    wrapped = ApiClientError(requests.ReadTimeout("read timed out"))
    assert isinstance(to_error("mailchimp", "GET /x", wrapped), TransientError)
    assert to_error("hubspot", "GET /x", KeyError("bug")) is None


def test_unknown_statuses_are_system_errors() -> None:
    err = to_error("hubspot", "GET /x", hubspot_exc(ApiException, 501, {}))
    assert isinstance(err, InternalError)


def test_hubspot_sub_category_is_kept_as_the_vendor_code() -> None:
    body = {
        "status": "error",
        "message": "A list named 'syncd: vip' already exists.",
        "category": "VALIDATION_ERROR",
        "subCategory": "ILS.DUPLICATE_LIST_NAMES",
    }
    err = to_error("hubspot", "POST /crm/v3/lists", hubspot_exc(ApiException, 400, body))
    assert isinstance(err, RejectedRecordError) and isinstance(err, HttpErrorInfo)
    assert err.vendor_code == "ILS.DUPLICATE_LIST_NAMES"
    plain = to_error("hubspot", "GET /x", hubspot_exc(ApiException, 400, {"message": "bad"}))
    assert isinstance(plain, HttpErrorInfo) and plain.vendor_code is None
