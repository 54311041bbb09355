"""Test-and-refine in the rule language: holdouts, success conditions, KPIs, derived fields."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
import yaml
from segkit import NOW, loads_mappings, seg

from syncd.engine.profiles.read import merge_profile
from syncd.errors import ConfigError
from syncd.segments import assign
from syncd.segments.evaluate import holdout_col, success_col
from syncd.segments.holdout import is_held_out
from syncd.segments.rules import fingerprint

FIELDS: dict[str, Any] = {
    "fields": {
        "stage": {"type": "string", "hubspot": "lifecyclestage"},
        "open_rate": {"type": "number", "mailchimp": "stats.avg_open_rate"},
        "click_rate": {"type": "number", "mailchimp": "stats.avg_click_rate"},
        "revenue": {"type": "number", "hubspot": "deals.won_amount"},
        "deals_won": {"type": "number", "hubspot": "deals.won_count"},
        "email_opens": {"type": "number", "hubspot": "hs_email_open"},
        "last_email_open": {"type": "datetime", "hubspot": "hs_email_last_open_date"},
    }
}


def rules(segments: list[dict[str, Any]]) -> Any:
    return loads_mappings(yaml.safe_dump(FIELDS), yaml.safe_dump({"segments": segments}))


def problems(segments: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        rules(segments)
    return caught.value.problems


def test_holdout_share_is_within_two_points_and_stable_across_edits() -> None:
    loose = rules([seg("all", {"always": True}, holdout=10)])
    n = 4000
    ids = list(range(1, n + 1))
    first = assign(loose, [{}] * n, NOW, ids=ids).frame[holdout_col("all")].to_list()
    share = sum(first) / n
    assert abs(share - 0.10) <= 0.02, share
    # A rule edit that keeps members in the segment keeps the same people held out.
    narrower = rules([seg("all", {"field": "open_rate", "gte": 0.5}, holdout=10)])
    profiles = [{"open_rate": 0.9 if i % 2 else 0.1} for i in ids]
    second = assign(narrower, profiles, NOW, ids=ids).frame[holdout_col("all")].to_list()
    for i, (was, now) in enumerate(zip(first, second, strict=True)):
        if profiles[i]["open_rate"] >= 0.5:
            assert was == now
        else:
            assert now is False  # not a member: never marked held out
    # Another segment key holds out other people (the key is part of the hash).
    other = rules([seg("other", {"always": True}, holdout=10)])
    third = assign(other, [{}] * n, NOW, ids=ids).frame[holdout_col("other")].to_list()
    assert third != first
    assert [is_held_out(i, "all", 10) for i in ids[:200]] == first[:200]


def test_holdout_matches_an_independent_hash_computation() -> None:
    """The bucket is splitmix64(splitmix64(id) ^ blake2b('holdout:KEY')) mod 10,000."""
    mask = (1 << 64) - 1

    def mix(x: int) -> int:
        z = (x + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    salt = int.from_bytes(hashlib.blake2b(b"holdout:k", digest_size=8).digest(), "little")
    for pid in (1, 2, 77, 123456, 2**40):
        expected = mix(mix(pid) ^ salt) % 10_000 < 1500
        assert is_held_out(pid, "k", 15) is expected


def test_success_condition_is_evaluated_per_contact() -> None:
    rs = rules(
        [
            seg("customers", {"field": "stage", "eq": "customer"}),
            seg(
                "trials",
                {"always": True},
                success={"when": {"segment": "customers"}, "within": "30d"},
                kpis={"open_rate": {"min": 0.25}},
            ),
        ]
    )
    trial = rs.segment_by_key["trials"]
    assert trial.success is not None and trial.success.within == timedelta(days=30)
    assert trial.kpis["open_rate"].min == 0.25
    frame = assign(rs, [{"stage": "customer"}, {"stage": "lead"}], NOW).frame
    assert frame[success_col("trials")].to_list() == [True, False]


def test_bad_refine_settings_are_named() -> None:
    found = problems(
        [
            seg("a", {"always": True}, holdout=80),
            seg("b", {"always": True}, success={"when": {"segment": "nope"}, "within": "soon"}),
            seg("c", {"always": True}, kpis={"stage": {"min": 1}}),
            seg("d", {"always": True}, success={"when": {"segment": "nope"}, "within": "3d"}),
        ]
    )
    text = "\n".join(found)
    assert "segments[0].holdout" in text
    assert "segments[1].success.within: expected a duration like 30d" in text
    assert "segments[2].kpis.stage: KPIs are number fields; 'stage' is string field" in text
    assert "segments[3].success.when.segment: unknown segment 'nope'" in text


def test_built_in_names_cannot_be_redefined() -> None:
    fields = {"fields": {"rfm_score": {"type": "number", "hubspot": "x"}}}
    with pytest.raises(ConfigError) as caught:
        loads_mappings(yaml.safe_dump(fields), yaml.safe_dump({"segments": []}))
    assert "'rfm_score' is a built-in field" in caught.value.problems[0]


def test_rfm_scores_are_quintiles_and_recency_counts_days() -> None:
    rs = rules(
        [
            seg("best", {"field": "rfm_score", "gte": 13}),
            seg("recent", {"field": "recency_days", "lte": 10}),
            seg("engaged", {"field": "engagement_score", "gte": 80}),
        ]
    )
    # Ten contacts: contact i opened i days ago, won i deals worth 1000 * i.
    profiles = [
        {
            "last_email_open": (NOW - timedelta(days=i)).isoformat(),
            "deals_won": i,
            "revenue": 1000 * i,
            "open_rate": 0.5,
            "click_rate": 0.1,
        }
        for i in range(1, 11)
    ]
    result = assign(rs, profiles, NOW)
    typed = result.typed
    assert typed["recency_days"].to_list() == pytest.approx([float(i) for i in range(1, 11)])
    # Quintiles: two contacts per score; the most recent score 5 on recency.
    assert typed["recency_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert typed["monetary_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert typed["frequency_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert typed["rfm_score"].to_list() == [7, 7, 8, 8, 9, 9, 10, 10, 11, 11]
    # 40 + 40 + 20 * (1 - days / 365)
    assert typed["engagement_score"][0] == pytest.approx(80 + 20 * (1 - 1 / 365))
    assert result.sizes() == {"best": 0, "recent": 10, "engaged": 10}


def test_rfm_treats_a_missing_score_as_one_and_all_missing_as_missing() -> None:
    rs = rules([seg("x", {"field": "rfm_score", "exists": True})])
    typed = assign(rs, [{"revenue": 5}, {}], NOW).typed
    # recency and frequency missing -> 1 each; monetary alone: every breakpoint equals the
    # one value, and a value on a breakpoint takes the lower score -> 1
    assert typed["rfm_score"].to_list() == [3, None]


def test_mailchimp_tags_are_a_list_field() -> None:
    rs = rules([seg("vip", {"field": "mailchimp_tags", "contains": "VIP"})])
    got = assign(rs, [{"mailchimp_tags": ["vip", "beta"]}, {"mailchimp_tags": []}, {}], NOW)
    assert got.frame["vip"].to_list() == [True, False, False]
    assert problems([seg("x", {"field": "mailchimp_tags", "eq": "vip"})])[0].endswith(
        "(allowed: contains, exists)"
    )


def test_rule_fingerprint_ignores_position_but_not_content() -> None:
    one = rules([seg("a", {"field": "open_rate", "gte": 0.5})])
    moved = rules([seg("z", {"always": True}), seg("a", {"field": "open_rate", "gte": 0.5})])
    edited = rules([seg("a", {"field": "open_rate", "gte": 0.6})])
    first = fingerprint(one.segment_by_key["a"].when)
    assert fingerprint(moved.segment_by_key["a"].when) == first
    assert fingerprint(edited.segment_by_key["a"].when) != first


def test_the_engine_fills_mailchimp_tags_without_syncds_own() -> None:
    attrs = {"mailchimp": {"_tags": ["VIP", "syncd:newsletter", "beta"], "_status": "subscribed"}}
    profile = merge_profile({}, "a@example.com", attrs)
    assert profile["mailchimp_tags"] == ["VIP", "beta"]
    rs = rules([seg("vip", {"field": "mailchimp_tags", "contains": "vip"})])
    assert assign(rs, [profile], NOW).frame["vip"].to_list() == [True]


def test_quintiles_of_many_contacts_come_from_a_sample_and_stay_balanced() -> None:
    rs = rules([seg("x", {"field": "monetary_score", "gte": 5})])
    n = 120_000  # more than QUANTILE_SAMPLE: breakpoints from every k-th value
    profiles = {"revenue": [float((i * 7919) % n) for i in range(n)]}
    scores = assign(rs, profiles, NOW).typed["monetary_score"].value_counts().sort("monetary_score")
    shares = [c / n for c in scores["count"].to_list()]
    assert scores["monetary_score"].to_list() == [1, 2, 3, 4, 5]
    assert all(abs(s - 0.2) < 0.005 for s in shares), shares
