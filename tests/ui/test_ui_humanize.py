"""Human times and rounded figures, vendor link building (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncd.ui.humanize import DASH, absolute, ago, duration, number, percent, readable
from syncd.ui.links import ExternalLinks, datacenter

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=2), "just now"),
        (timedelta(seconds=42), "42 s ago"),
        (timedelta(minutes=3, seconds=59), "3 min ago"),
        (timedelta(hours=5, minutes=1), "5 h ago"),
        (timedelta(days=2, hours=23), "2 d ago"),
        (timedelta(days=75), "2 mo ago"),
        (timedelta(days=800), "2 y ago"),
        (timedelta(minutes=-3), "in 3 min"),
    ],
)
def test_ago(delta: timedelta, text: str) -> None:
    assert ago((NOW - delta).isoformat(), NOW) == text


def test_absolute_is_utc_whatever_the_offset() -> None:
    assert absolute("2025-03-14T13:00:05+01:00") == "2025-03-14 12:00:05 UTC"
    assert absolute("2025-03-14T12:00:05") == "2025-03-14 12:00:05 UTC"  # naive: stored UTC
    assert absolute(None) == DASH and ago(None, NOW) == DASH


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.42, "0.4 s"), (9.96, "10.0 s"), (42.4, "42 s"), (185.2, "3 min 05 s"),
     (7440, "2 h 04 min"), (None, DASH)],
)  # fmt: skip
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_numbers_and_shares_are_rounded() -> None:
    assert number(1234567.8) == "1,234,568" and number(0) == "0" and number(None) == DASH
    assert percent(0.4567) == "46%" and percent(0.4567, 1) == "45.7%" and percent(None) == DASH


def test_links_need_their_parts() -> None:
    links = ExternalLinks(hubspot_portal_id=123, mailchimp_dc="us21")
    assert links.hubspot_contact("901") == "https://app.hubspot.com/contacts/123/record/0-1/901"
    assert links.hubspot_contact(None) is None
    assert links.mailchimp_member("a b") == (
        "https://us21.admin.mailchimp.com/audience/contact-profile?contact_id=a+b"
    )
    assert ExternalLinks().hubspot_contact("901") is None
    assert ExternalLinks().mailchimp_member("x") is None


def test_datacenter_from_key_or_url() -> None:
    assert datacenter("0123abcd-us21") == "us21"
    assert datacenter("nodc", "https://us6.api.mailchimp.com/3.0") == "us6"
    assert datacenter("nodc", "http://127.0.0.1:8080/mailchimp") is None
    assert datacenter(None) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, DASH), ("", DASH), (True, "yes"), (12345, "12,345"), (0.123456, "0.123"),
     (2.0, "2"), (1234.5, "1,234.5"), ("2025-03-14T13:00:05+01:00", "2025-03-14 12:00:05 UTC"),
     ("2025-13-45T00:00:00", "2025-13-45T00:00:00"), ("customer", "customer")],
)  # fmt: skip
def test_readable_profile_values(value: object, text: str) -> None:
    assert readable(value) == text


def test_console_links_from_settings_skip_the_emulator() -> None:
    from syncd.config import Settings
    from syncd.ui.console import links_for

    real = Settings(mailchimp={"api_key": "k-us21", "audience_id": "a"})
    assert links_for(real) == ExternalLinks(None, "us21")
    emulated = Settings(
        mailchimp={"api_key": "k-us1", "audience_id": "a", "base_url": "http://127.0.0.1:8765/3.0"}
    )
    assert links_for(emulated) == ExternalLinks(None, None)
    chosen = Settings(ui={"hubspot_portal_id": 9, "mailchimp_dc": "us6"})
    assert links_for(chosen) == ExternalLinks(9, "us6")
