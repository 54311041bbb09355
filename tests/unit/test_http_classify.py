"""The status table, Retry-After parsing and the redacted errors built from SDK exceptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import urllib3
from hubspot.crm.contacts.exceptions import ApiException, UnauthorizedException
from mailchimp_marketing.api_client import ApiClientError

from connectors.hubspot.failures import detect as hubspot_detect
from connectors.hubspot.limits import RATE_HEADERS
from connectors.mailchimp.failures import detect as mailchimp_detect
from syncd.errors import ConfigError, InternalError, RejectedRecordError, TransientError
from syncd.failures import ErrorClass, Reason, class_of
from syncd.http import (
    HttpErrorInfo,
    parse_retry_after,
    retry_after_from_headers,
    status_failure,
    status_of,
    to_error,
)
from syncd.http.classify import STATUS_REASONS
from syncd.redact import REDACTOR

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


C, T, R, S = ErrorClass.CONFIG, ErrorClass.TRANSIENT, ErrorClass.REJECTED, ErrorClass.SYSTEM


@pytest.mark.parametrize(
    ("status", "error_class", "reason"),
    [
        (400, R, Reason.RECORD_REFUSED), (401, C, Reason.AUTH_REFUSED),
        (403, C, Reason.SCOPE_MISSING), (404, R, Reason.CONTACT_DELETED),
        (405, S, Reason.INTERNAL), (409, R, Reason.DUPLICATE_EMAIL),
        (413, R, Reason.BATCH_TOO_LARGE), (418, R, Reason.RECORD_REFUSED),
        (423, T, Reason.TEMPORARY_FAILURE), (429, T, Reason.RATE_LIMITED),
        (477, T, Reason.TEMPORARY_FAILURE), (500, T, Reason.VENDOR_UNAVAILABLE),
        (501, S, Reason.INTERNAL), (502, T, Reason.VENDOR_UNAVAILABLE),
        (503, T, Reason.VENDOR_UNAVAILABLE), (504, T, Reason.VENDOR_UNAVAILABLE),
        (522, T, Reason.VENDOR_UNAVAILABLE), (302, S, Reason.INTERNAL),
    ],
)  # fmt: skip
def test_status_table(status: int, error_class: ErrorClass, reason: Reason) -> None:
    assert status_failure(status) == (error_class, reason)


def test_every_status_reason_is_reported_under_its_table_class() -> None:
    for status in STATUS_REASONS:
        error_class, reason = status_failure(status)
        assert class_of(reason) is error_class, status


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
    assert err.reason is Reason.AUTH_REFUSED
    text = str(err)
    assert "HTTP 401" in text and "SYNCD_HUBSPOT__ACCESS_TOKEN" in text
    assert "scope" not in text  # a refused token is not a missing scope
    assert "pat-na1" not in text and "ann@example.com" not in text
    assert status_of(err) == 401


def test_a_hubspot_429_is_transient_with_the_wait_it_asks_for() -> None:
    body = {"message": "You have reached your ten_secondly_rolling limit."}
    exc = hubspot_exc(ApiException, 429, body, {"Retry-After": "4"})
    err = to_error("hubspot", "POST /x", exc)
    assert isinstance(err, TransientError)
    assert err.retry_after_s == 4.0
    assert err.reason is Reason.RATE_LIMITED


def test_mailchimp_problem_json_is_read_for_the_message() -> None:
    body = {"title": "Invalid Resource", "status": 400, "detail": "bob@example.com looks fake"}
    err = to_error("mailchimp", "POST /lists/x", ApiClientError(json.dumps(body), 400))
    assert isinstance(err, RejectedRecordError)
    assert "Invalid Resource" in str(err) and "bob@example.com" not in str(err)


def test_transport_errors_are_transient_and_bugs_are_not_swallowed() -> None:
    refused = urllib3.exceptions.MaxRetryError(
        None, "/x", urllib3.exceptions.NewConnectionError(None, "refused")
    )  # type: ignore[arg-type]
    for api, exc in (
        ("hubspot", refused),
        ("mailchimp", ApiClientError(requests.ReadTimeout("read timed out"))),
    ):
        err = to_error(api, "GET /x", exc)
        assert isinstance(err, TransientError) and err.reason is Reason.VENDOR_UNAVAILABLE
    assert to_error("hubspot", "GET /x", KeyError("bug")) is None


def test_unknown_statuses_are_system_errors() -> None:
    err = to_error("hubspot", "GET /x", hubspot_exc(ApiException, 501, {}))
    assert isinstance(err, InternalError) and err.reason is Reason.INTERNAL


def test_hubspot_sub_category_names_a_taken_list_name() -> None:
    body = {
        "status": "error",
        "message": "A list named 'syncd: vip' already exists.",
        "category": "VALIDATION_ERROR",
        "subCategory": "ILS.DUPLICATE_LIST_NAMES",
    }
    exc = hubspot_exc(ApiException, 400, body)
    err = to_error("hubspot", "POST /crm/v3/lists", exc, detect=hubspot_detect)
    assert isinstance(err, RejectedRecordError) and isinstance(err, HttpErrorInfo)
    assert err.reason is Reason.NAME_TAKEN  # the status still decides the class
    plain = hubspot_exc(ApiException, 400, {"message": "bad"})
    refused = to_error("hubspot", "GET /x", plain, detect=hubspot_detect)
    assert isinstance(refused, HttpErrorInfo) and refused.reason is Reason.RECORD_REFUSED
    # Without the connector's detection the HTTP layer knows only the status.
    bare = to_error("hubspot", "POST /crm/v3/lists", exc)
    assert bare is not None and bare.reason is Reason.RECORD_REFUSED


def test_mailchimp_compliance_refusal_is_detected_by_the_connector() -> None:
    body = {
        "title": "Member In Compliance State",
        "status": 400,
        "detail": "ann@example.com is already a list member in compliance state",
    }
    exc = ApiClientError(json.dumps(body), 400)
    err = to_error("mailchimp", "PUT /lists/x/members/h", exc, detect=mailchimp_detect)
    assert isinstance(err, RejectedRecordError) and err.reason is Reason.MEMBER_COMPLIANCE
    assert "ann@example.com" not in str(err)


def test_a_mailchimp_401_advice_names_the_api_key_and_its_datacenter() -> None:
    err = to_error("mailchimp", "GET /ping", ApiClientError('{"title": "API Key Invalid"}', 401))
    assert isinstance(err, ConfigError) and err.reason is Reason.AUTH_REFUSED
    assert err.hint is not None and "mailchimp.api_key" in err.hint and "-usN" in err.hint
