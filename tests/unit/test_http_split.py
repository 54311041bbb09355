"""Per-member outcomes from a batch call, splitting refused batches down to the bad record."""

from __future__ import annotations

import pytest

from connectors.base import MemberOutcome
from connectors.split import send_split
from syncd.errors import ConfigError
from syncd.failures import Reason
from syncd.http.classify import make_error


def key(item: str) -> tuple[str, str]:
    return item, "add"


def test_a_refused_batch_is_halved_until_the_bad_record_is_alone() -> None:
    sent: list[list[str]] = []

    def send(part: list[str]) -> list[MemberOutcome]:
        sent.append(part)
        if "bad" in part:
            raise make_error("hubspot", "PUT /x", 400, "invalid id")
        return [MemberOutcome(i, "add", "applied") for i in part]

    items = ["a", "b", "c", "bad", "d", "e", "f", "g"]
    out = {o.remote_id: o for o in send_split(items, send, key)}
    assert out["bad"].outcome == "rejected" and "invalid id" in (out["bad"].message or "")
    assert out["bad"].reason is Reason.RECORD_REFUSED
    assert all(out[i].outcome == "applied" for i in items if i != "bad")
    assert len(sent) == 7  # 8 → 4+4 → 2+2 → 1+1


def test_transient_failures_become_retry_outcomes_and_config_errors_propagate() -> None:
    def busy(part: list[str]) -> list[MemberOutcome]:
        raise make_error("mailchimp", "POST /x", 503, "busy")

    outcomes = send_split(["a", "b"], busy, key)
    assert {(o.outcome, o.reason) for o in outcomes} == {("retry", Reason.VENDOR_UNAVAILABLE)}

    def denied(part: list[str]) -> list[MemberOutcome]:
        raise make_error("mailchimp", "POST /x", 401, "bad key")

    with pytest.raises(ConfigError):
        send_split(["a"], denied, key)


def test_a_missing_target_means_retry_after_ensure() -> None:
    def gone(part: list[str]) -> list[MemberOutcome]:
        raise make_error("hubspot", "PUT /x", 404, "List 7 does not exist.")

    assert {o.reason for o in send_split(["a", "b"], gone, key)} == {Reason.TARGET_MISSING}


def test_a_refused_record_keeps_the_reason_its_refusal_named() -> None:
    def compliance(part: list[str]) -> list[MemberOutcome]:
        raise make_error(
            "mailchimp", "POST /x", 400, "Member In Compliance State",
            reason=Reason.MEMBER_COMPLIANCE,
        )  # fmt: skip

    (only,) = send_split(["a"], compliance, key)
    assert (only.outcome, only.reason) == ("rejected", Reason.MEMBER_COMPLIANCE)
