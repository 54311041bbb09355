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
    fold,
    leave,
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


def _hs(email: str, rid: str = "1", **fields: object) -> Profile:
    return Profile(email, {"hubspot": rid}, {"hubspot": dict(fields)}, {"hubspot": email})


def test_a_new_record_creates_a_profile_and_the_other_system_links_by_address() -> None:
    made = resolve("hubspot", "1", "Ann@x.io", {"a": 1}, holder=None, partner=None)
    assert made.decision is Decision.CREATE and made.profile == _hs("ann@x.io", a=1)
    joined = resolve(
        "mailchimp", "h", "ann@x.io", {"b": 2}, holder=None, partner=made.profile, key="k1"
    )
    assert joined.decision is Decision.LINK
    assert joined.profile is not None and joined.profile.ids == {"hubspot": "1", "mailchimp": "h"}
    assert joined.profile.keys == {"mailchimp": "k1"}
    assert made.profile.ids == {"hubspot": "1"}  # inputs are never modified


def test_an_email_changed_in_hubspot_keeps_the_member_and_its_own_address() -> None:
    holder = Profile(
        "old@x.io",
        {"hubspot": "1", "mailchimp": "h"},
        {"hubspot": {}, "mailchimp": {}},
        {"hubspot": "old@x.io", "mailchimp": "old@x.io"},
    )
    moved = resolve("hubspot", "1", "new@x.io", {"a": 2}, holder=holder, partner=None)
    assert moved.decision is Decision.MOVE
    assert moved.profile is not None and moved.profile.email == "new@x.io"
    assert moved.profile.ids == {"hubspot": "1", "mailchimp": "h"}
    assert moved.profile.emails["mailchimp"] == "old@x.io"  # Mailchimp is written here
    # A later Mailchimp-only edit at the old address does not flip the profile back.
    again = resolve("mailchimp", "h", "old@x.io", {"b": 3}, holder=moved.profile, partner=None)
    assert again.decision is Decision.UPDATE
    assert again.profile is not None and again.profile.email == "new@x.io"


def test_a_member_whose_address_changed_is_found_by_its_key() -> None:
    holder = Profile("a@x.io", {"mailchimp": "h1"}, {"mailchimp": {}}, {"mailchimp": "a@x.io"})
    holder.keys["mailchimp"] = "k1"
    moved = resolve("mailchimp", "h2", "b@x.io", {}, holder=holder, partner=None, key="k1")
    assert moved.decision is Decision.MOVE
    assert moved.profile is not None and moved.profile.ids == {"mailchimp": "h2"}
    assert moved.profile.email == "b@x.io"


def test_a_shared_address_never_merges_two_records_of_one_system() -> None:
    # A reused or case-variant address: a second HubSpot record is a person of its own.
    other = resolve("hubspot", "2", "ANN@x.io", {}, holder=None, partner=None)
    assert other.decision is Decision.CREATE and other.profile is not None
    assert other.profile.ids == {"hubspot": "2"}
    # A partner that has this system's record already is not linked again.
    taken = resolve("hubspot", "3", "ann@x.io", {}, holder=None, partner=_hs("ann@x.io"))
    assert taken.decision is Decision.CREATE
    bad = resolve("hubspot", "3", "not-an-email", {}, holder=None, partner=None)
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


def test_leaving_and_folding() -> None:
    both = Profile(
        "b@x.io",
        {"hubspot": "2", "mailchimp": "h"},
        {"hubspot": {"x": 1}, "mailchimp": {"y": 2}},
        {"hubspot": "b@x.io", "mailchimp": "m@x.io"},
    )
    left = leave(both, "hubspot")
    assert left.ids == {"mailchimp": "h"} and left.email == "m@x.io" and left.active
    assert not leave(left, "mailchimp").active
    won, lost = fold(_hs("a@x.io"), both, "hubspot")
    assert won.ids == {"hubspot": "1", "mailchimp": "h"} and won.email == "a@x.io"
    assert won.sources["mailchimp"] == {"y": 2} and not lost.active
    # A winner with a member of its own leaves the loser's member where it is.
    won2, lost2 = fold(both, Profile("c@x.io", {"hubspot": "3", "mailchimp": "g"}), "hubspot")
    assert won2.ids["mailchimp"] == "h" and lost2.ids == {"mailchimp": "g"}
