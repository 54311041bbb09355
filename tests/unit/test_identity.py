"""Identity: email normalisation, field-by-field merge, moves and duplicates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.engine.profiles.identity import (
    Decision,
    Profile,
    duplicate_emails,
    email_problem,
    merge_fields,
    normalise_email,
    resolve,
)


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("  Ann.Lee@Example.COM ", "ann.lee@example.com"), ("a+b@sub.x.org", "a+b@sub.x.org"),
        ("", None), (None, None), ("no-at-sign", None), ("a@b", None), ("a@@b.com", None),
        ("a b@c.com", None), (".a@b.com", None), ("a..b@c.com", None), ("a@-b.com", None),
    ],
)  # fmt: skip
def test_normalise_email(raw: str | None, email: str | None) -> None:
    assert normalise_email(raw) == email


@given(st.text())
def test_normalise_email_never_crashes(raw: str) -> None:
    out = normalise_email(raw)
    assert out is None or (out == out.strip().lower() and "@" in out)


def test_email_problem_says_why() -> None:
    assert email_problem(" ") == "missing"
    assert email_problem("x@") == "invalid"
    assert email_problem("x@y.io") is None


def test_merge_prefers_per_field_and_falls_back_when_empty() -> None:
    merged = merge_fields(
        {
            "hubspot": {"country": "", "first_name": "Ann"},
            "mailchimp": {"country": "SE", "first_name": "Annie", "open_rate": 0.3},
        },
        {"first_name": "mailchimp"},
    )
    assert merged == {"country": "SE", "first_name": "Annie", "open_rate": 0.3}
    assert merge_fields({"hubspot": None, "mailchimp": {"x": 1}}) == {"x": 1}


def test_a_new_address_creates_a_profile_and_a_known_one_updates_it() -> None:
    made = resolve("hubspot", "1", "Ann@x.io", {"a": 1}, holder=None, owner=None)
    assert made.decision is Decision.CREATE and made.profile == Profile(
        "ann@x.io", {"hubspot": "1"}, {"hubspot": {"a": 1}}
    )
    joined = resolve("mailchimp", "h", "ann@x.io", {"b": 2}, holder=None, owner=made.profile)
    assert joined.decision is Decision.UPDATE
    assert joined.profile is not None and joined.profile.ids == {"hubspot": "1", "mailchimp": "h"}
    assert made.profile.ids == {"hubspot": "1"}  # inputs are never modified


def test_an_email_changed_in_hubspot_moves_the_profile() -> None:
    holder = Profile(
        "old@x.io", {"hubspot": "1", "mailchimp": "h"}, {"hubspot": {}, "mailchimp": {}}
    )
    moved = resolve("hubspot", "1", "new@x.io", {"a": 2}, holder=holder, owner=None)
    assert moved.decision is Decision.MOVE
    assert moved.profile is not None and moved.profile.email == "new@x.io"
    assert moved.profile.ids == {"hubspot": "1", "mailchimp": "h"}


def test_moving_onto_an_existing_address_detaches_the_old_profile() -> None:
    holder = Profile("old@x.io", {"hubspot": "1"}, {"hubspot": {"a": 1}})
    owner = Profile("new@x.io", {"mailchimp": "h"}, {"mailchimp": {"b": 2}})
    moved = resolve("hubspot", "1", "new@x.io", {"a": 2}, holder=holder, owner=owner)
    assert moved.decision is Decision.MOVE
    assert moved.profile is not None and moved.profile.ids == {"mailchimp": "h", "hubspot": "1"}
    assert moved.detached == Profile("old@x.io", {}, {})


def test_duplicates_and_bad_addresses_are_reported_not_merged() -> None:
    owner = Profile("ann@x.io", {"hubspot": "1"}, {"hubspot": {}})
    dup = resolve("hubspot", "2", "ANN@x.io", {}, holder=None, owner=owner)
    assert dup.decision is Decision.DUPLICATE and dup.profile is None
    bad = resolve("hubspot", "3", "not-an-email", {}, holder=None, owner=None)
    assert bad.decision is Decision.REJECT and bad.reason == "invalid email address"
    found = duplicate_emails(
        [
            ("hubspot", "1", "a@x.io"),
            ("hubspot", "2", " A@x.io"),
            ("mailchimp", "h", "a@x.io"),
            ("hubspot", "3", "bad"),
        ]
    )
    assert [(d.email, d.source, d.source_ids) for d in found] == [("a@x.io", "hubspot", ("1", "2"))]
