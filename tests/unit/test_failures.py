"""The failure table: one row per reason code, its class, its advice, and how stored rows read it.

Which producer emits each code is tested in `test_failure_producers.py`; how rows written before
codes existed got theirs, in `test_legacy_reasons.py`.
"""

from __future__ import annotations

import pytest

from syncd.errors import (
    ConfigError,
    DatabaseNotMigratedError,
    InternalError,
    RejectedRecordError,
    SyncdError,
    TransientError,
    classify,
    error_for,
    reason_of,
)
from syncd.failures import (
    FAILURES,
    ErrorClass,
    Reason,
    advice,
    api_of,
    class_of,
    fallback,
    gave_up,
    stored_advice,
)

HS = "hubspot PUT /crm/v3/lists/{listId}/memberships/add-and-remove"
MC = "mailchimp POST /lists/{list_id}/segments/{segment_id}"


def test_every_reason_has_one_row_and_codes_are_stable_strings() -> None:
    assert set(FAILURES) == set(Reason)
    for reason in Reason:
        assert reason.value == reason.name.lower()
        assert len(reason.value) <= 32  # the column's width


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_advice_is_one_line_without_a_full_stop(reason: Reason) -> None:
    row = FAILURES[reason]
    assert set(row.by_api) <= {"hubspot", "mailchimp"}
    for text in (row.advice, *row.by_api.values()):
        assert text and "\n" not in text and not text.endswith(".")


def test_each_class_has_a_general_reason_of_its_own_class() -> None:
    for error_class in ErrorClass:
        assert class_of(fallback(error_class)) is error_class


@pytest.mark.parametrize(
    ("error", "error_class", "reason"),
    [
        (ConfigError("x"), ErrorClass.CONFIG, Reason.CONFIG_INVALID),
        (DatabaseNotMigratedError("x"), ErrorClass.CONFIG, Reason.NOT_MIGRATED),
        (TransientError("x"), ErrorClass.TRANSIENT, Reason.TEMPORARY_FAILURE),
        (RejectedRecordError("x"), ErrorClass.REJECTED, Reason.RECORD_REFUSED),
        (InternalError("x"), ErrorClass.SYSTEM, Reason.INTERNAL),
        (KeyError("x"), ErrorClass.SYSTEM, Reason.INTERNAL),
    ],
)
def test_every_error_carries_a_class_and_a_reason(
    error: Exception, error_class: ErrorClass, reason: Reason
) -> None:
    assert (classify(error), reason_of(error)) == (error_class, reason)


def test_error_for_picks_the_table_s_class_and_attaches_advice_to_config_errors() -> None:
    taken = error_for(Reason.NAME_TAKEN, "cannot create", api="mailchimp")
    assert isinstance(taken, ConfigError) and taken.reason is Reason.NAME_TAKEN
    assert str(taken) == f"cannot create ({advice(Reason.NAME_TAKEN, 'mailchimp')})"
    refused = error_for(Reason.MEMBER_COMPLIANCE, "refused")
    assert isinstance(refused, RejectedRecordError) and refused.hint is None
    for reason in Reason:
        assert isinstance(error_for(reason, "x"), SyncdError)
        assert error_for(reason, "x").error_class is class_of(reason)


# -- the advice of a refused token -------------------------------------------------------------


def test_a_refused_hubspot_token_is_advised_as_the_token_not_a_scope() -> None:
    text = advice(Reason.AUTH_REFUSED, "hubspot")
    assert "hubspot.access_token" in text and "SYNCD_HUBSPOT__ACCESS_TOKEN" in text
    assert "scope" not in text


def test_a_refused_mailchimp_key_is_advised_with_its_datacenter() -> None:
    text = advice(Reason.AUTH_REFUSED, "mailchimp")
    assert "mailchimp.api_key" in text and "SYNCD_MAILCHIMP__API_KEY" in text
    assert "datacenter" in text and "-usN" in text


def test_advice_without_a_vendor_is_neutral() -> None:
    assert advice(Reason.AUTH_REFUSED) == "credentials refused; check the token or API key"
    assert advice(Reason.AUTH_REFUSED, "salesforce") == advice(Reason.AUTH_REFUSED)
    assert advice(Reason.SCOPE_MISSING) == "missing scope or permission for this call"


def test_a_missing_scope_is_advised_per_vendor() -> None:
    assert "`syncd check` lists every scope" in advice(Reason.SCOPE_MISSING, "hubspot")
    assert "firewall" in advice(Reason.SCOPE_MISSING, "mailchimp")


# -- stored rows ---------------------------------------------------------------------------------


def test_a_success_has_no_advice() -> None:
    assert stored_advice(None, None, None) is None
    assert stored_advice(None, None, "") is None
    assert stored_advice(None, None, "something nobody anticipated") is None


@pytest.mark.parametrize(
    ("code", "where", "message", "expected"),
    [
        ("member_compliance", "mailchimp_tag:vip", "reworded",
         "member unsubscribed; syncd never re-subscribes"),
        ("contact_deleted", "hubspot_list:vip", None, "contact deleted in HubSpot"),
        ("contact_deleted", None, None, "contact deleted in the target system"),
        ("not_in_audience", "mailchimp_tag:vip", None,
         "contact is not in the Mailchimp audience (deleted or archived there)"),
        ("target_missing", "hubspot_list:x", f"{HS}: HTTP 404: Not Found",
         "the list or tag was deleted remotely; syncd recreates it next run"),
        ("auth_refused", "mailchimp", "HTTP 401", advice(Reason.AUTH_REFUSED, "mailchimp")),
        ("auth_refused", None, f"{MC}: HTTP 401: API Key Invalid",
         advice(Reason.AUTH_REFUSED, "mailchimp")),
        ("auth_refused", None, f"{HS}: HTTP 401: expired", advice(Reason.AUTH_REFUSED, "hubspot")),
    ],
)  # fmt: skip
def test_a_stored_code_gives_its_advice_in_the_vendor_s_wording(
    code: str, where: str | None, message: str | None, expected: str
) -> None:
    assert stored_advice(code, "rejected", message, where) == expected


def test_the_message_never_chooses_the_advice() -> None:
    compliance = f"{MC}: HTTP 400: Member In Compliance State"
    assert stored_advice("rate_limited", "transient", compliance) == advice(Reason.RATE_LIMITED)
    assert stored_advice(None, "rejected", compliance) == advice(Reason.RECORD_REFUSED)


@pytest.mark.parametrize(("error_class", "reason"), [(c, fallback(c)) for c in ErrorClass])
def test_a_failure_without_a_known_code_gets_its_class_s_advice(
    error_class: ErrorClass, reason: Reason
) -> None:
    assert stored_advice(None, error_class, "x") == advice(reason)
    assert stored_advice("from_a_newer_syncd", error_class, "x") == advice(reason)


def test_a_row_syncd_gave_up_on_says_so_with_the_advice_of_its_cause() -> None:
    message = gave_up(5, f"{MC}: HTTP 503: Service Unavailable")
    assert message.startswith("gave up after 5 attempts: ")
    assert stored_advice("vendor_unavailable", "transient", message, "mailchimp_tag:vip") == (
        "stopped after 5 failed attempts; the next run plans it again "
        "(vendor unavailable; left in the outbox for the next run)"
    )


def test_a_row_given_up_with_an_unknown_cause_still_says_what_happened() -> None:
    assert stored_advice(None, "transient", "gave up after 3 attempts: ???") == (
        "stopped after 3 failed attempts; the next run plans it again"
    )
    assert stored_advice(None, "system", "gave up after 3 attempts") == (
        "stopped after 3 failed attempts; the next run plans it again"
    )


@pytest.mark.parametrize(
    ("where", "message", "expected"),
    [
        ("hubspot_list:a", None, "hubspot"),
        ("mailchimp_tag:a", None, "mailchimp"),
        ("hubspot_property:syncd", None, "hubspot"),
        ("mailchimp", None, "mailchimp"),
        (None, "mailchimp GET /lists: HTTP 500", "mailchimp"),
        (None, "hubspot: hubspot GET /x: HTTP 401", "hubspot"),
        (None, "timeout", None),
        (None, None, None),
    ],
)
def test_api_of(where: str | None, message: str | None, expected: str | None) -> None:
    assert api_of(where, message) == expected
