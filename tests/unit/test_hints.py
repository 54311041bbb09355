"""Actionable errors: every row of the hint table, with messages as syncd really stores them."""

from __future__ import annotations

import pytest

from syncd.hints import HINTS, api_of, hint_for

HS = "hubspot PUT /crm/v3/lists/{listId}/memberships/add-and-remove"
MC = "mailchimp POST /lists/{list_id}/segments/{segment_id}"

# (row name, error_class, message, target, expected hint)
CASES = [
    (
        "mailchimp_compliance",
        "rejected",
        "mailchimp PATCH /lists/{list_id}/members/{hash}: HTTP 400: Member In Compliance State",
        "mailchimp_tag:vip",
        "member unsubscribed; syncd never re-subscribes",
    ),
    (
        "mailchimp_forgotten",
        "rejected",
        "mailchimp PUT /lists/{list_id}/members/{hash}: HTTP 400: Forgotten Email Not Subscribed",
        None,
        "member asked Mailchimp to forget them; syncd never re-adds them",
    ),
    (
        "interrupted",
        "transient",
        "interrupted: the apply lease was lost to another writer; what this run had not "
        "confirmed is left to it",
        None,
        "the run stopped before it finished (killed, or overtaken after losing its lease); "
        "the next run resends what it had not confirmed",
    ),
    (
        "superseded",
        None,
        "superseded by run 12",
        None,
        "replaced by a newer run's plan; nothing to do",
    ),
    (
        "hubspot_list_kind",
        "config",
        "HubSpot list 'syncd: vip' (id 9) is a DYNAMIC list of 0-1",
        None,
        "a HubSpot list not made by syncd has this name; rename that list",
    ),
    (
        "not_migrated",
        "config",
        "database sqlite:///x.db has no syncd schema; this syncd needs revision 0003",
        None,
        "run `syncd db upgrade`",
    ),
    (
        "database_unreachable",
        "config",
        "cannot open the database postgresql://u@h/db: connection refused",
        None,
        "check database_url and that the database server is reachable",
    ),
    (
        "hubspot_401",
        "config",
        f"{HS}: HTTP 401: Authentication credentials not found",
        "hubspot_list:vip",
        "token expired or missing the crm.lists.write scope",
    ),
    (
        "mailchimp_401",
        "config",
        f"{MC}: HTTP 401: API Key Invalid",
        None,
        "API key revoked or wrong datacenter",
    ),
    (
        "auth_401",
        "config",
        "HTTP 401: Unauthorized",
        None,
        "credentials refused; check the token or API key",
    ),
    (
        "hubspot_403",
        "config",
        f"{HS}: HTTP 403: This app hasn't been granted all required scopes",
        "hubspot_list:vip",
        "the private app is missing a scope (crm.lists.write, crm.objects.contacts.write, "
        "crm.schemas.contacts.write); add it and update the token",
    ),
    (
        "mailchimp_403",
        "config",
        f"{MC}: HTTP 403: Forbidden",
        "mailchimp_tag:vip",
        "the API key lacks permission, or Mailchimp's firewall blocked the request",
    ),
    ("auth_403", "config", "HTTP 403", None, "missing scope or permission for this call"),
    (
        "rate_limited",
        "transient",
        f"{MC}: HTTP 429: Too Many Requests",
        "mailchimp_tag:vip",
        "rate limited; will retry next run",
    ),
    (
        "target_missing",
        "transient",
        f"{HS}: HTTP 404: list not found",
        "hubspot_list:vip",
        "the list or tag was deleted remotely; syncd recreates it next run",
    ),
    (
        "vendor_unavailable",
        "transient",
        f"{HS}: HTTP 502: Bad Gateway",
        "hubspot_list:vip",
        "vendor unavailable; left in the outbox for the next run",
    ),
    (
        "no_email",
        "rejected",
        "invalid: no email address",
        "mailchimp_tag:vip",
        "the contact has no email address; add one in the source system",
    ),
    (
        "invalid_email",
        "rejected",
        "validation_error: Email address [email] is invalid",
        "hubspot_property:syncd",
        "fix the address in the source system",
    ),
    (
        "duplicate_email",
        "rejected",
        "hubspot POST /crm/v3/objects/contacts: HTTP 409: Contact already exists.",
        None,
        "two contacts share this address; merge them in the source system",
    ),
    (
        "hubspot_not_found",
        "rejected",
        "not_found: no such contact (recordIdsMissing)",
        "hubspot_list:vip",
        "contact deleted in HubSpot",
    ),
    (
        "mailchimp_not_found",
        "rejected",
        "not_found: Email addresses do not exist in the list",
        "mailchimp_tag:vip",
        "contact is not in the Mailchimp audience (deleted or archived there)",
    ),
    (
        "not_found",
        "rejected",
        "contact no longer exists in the target system",
        None,
        "contact deleted in the target system",
    ),
    (
        "bad_record_id",
        "rejected",
        "invalid: not a record id",
        None,
        "the stored HubSpot id is malformed; `syncd sync --full` refreshes it",
    ),
    (
        "batch_too_large",
        "rejected",
        "Invalid Resource — Maximum allowed member items exceeded",
        None,
        "a batch was too large for the API; please report this as a syncd bug",
    ),
    (
        "no_outcome",
        "system",
        "no outcome reported for this row",
        None,
        "the vendor's answer did not mention this contact; retried next run",
    ),
    (
        "config",
        "config",
        "mappings/segments.yaml: segments[2].when: unknown field",
        None,
        "a person must fix the configuration or credentials; `syncd check` shows what",
    ),
    (
        "transient",
        "transient",
        "retryable failure",
        None,
        "temporary failure; retried next run",
    ),
    (
        "rejected",
        "rejected",
        "validation_error: Property values were not valid",
        "hubspot_property:syncd",
        "the vendor refused this record as sent; fix it in the source system",
    ),
    (
        "system",
        "system",
        "KeyError('members')",
        None,
        "unexpected error inside syncd; please report it with the run id",
    ),
]


@pytest.mark.parametrize(
    ("error_class", "message", "target", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_every_row_gives_its_hint(
    error_class: str | None, message: str, target: str | None, expected: str
) -> None:
    assert hint_for(error_class, message, target) == expected


def test_every_row_of_the_table_is_exercised() -> None:
    assert [case[0] for case in CASES] == [row.name for row in HINTS]
    assert [case[4] for case in CASES] == [row.hint for row in HINTS]


def test_a_success_has_no_hint() -> None:
    assert hint_for(None, None) is None
    assert hint_for(None, "") is None


def test_unknown_message_without_class_has_no_hint() -> None:
    assert hint_for(None, "something nobody anticipated") is None


def test_vendor_comes_from_the_message_when_no_target_is_given() -> None:
    assert hint_for("config", f"{MC}: HTTP 401: API Key Invalid") == (
        "API key revoked or wrong datacenter"
    )
    assert hint_for("config", f"{HS}: HTTP 401: expired") == (
        "token expired or missing the crm.lists.write scope"
    )


def test_api_name_works_as_target() -> None:
    assert hint_for("config", "HTTP 401", "mailchimp") == "API key revoked or wrong datacenter"


def test_gave_up_carries_the_hint_of_its_cause() -> None:
    message = f"gave up after 5 attempts: {MC}: HTTP 503: Service Unavailable"
    assert hint_for("transient", message, "mailchimp_tag:vip") == (
        "stopped after 5 failed attempts; the next run plans it again "
        "(vendor unavailable; left in the outbox for the next run)"
    )


def test_gave_up_with_an_unknown_cause_still_says_what_happened() -> None:
    assert hint_for("transient", "gave up after 3 attempts: ???") == (
        "stopped after 3 failed attempts; the next run plans it again"
    )
    assert hint_for("system", "gave up after 3 attempts") == (
        "stopped after 3 failed attempts; the next run plans it again"
    )


def test_matching_ignores_case() -> None:
    assert hint_for("rejected", "MEMBER IN COMPLIANCE STATE") == (
        "member unsubscribed; syncd never re-subscribes"
    )


def test_compliance_wins_over_the_status_it_came_with() -> None:
    message = f"{MC}: HTTP 400: Member In Compliance State — [email] is already a list member"
    assert hint_for("rejected", message) == "member unsubscribed; syncd never re-subscribes"


def test_a_404_that_is_retried_means_the_target_is_gone_but_rejected_means_the_contact() -> None:
    message = f"{HS}: HTTP 404: Not Found"
    assert "recreates" in (hint_for("transient", message, "hubspot_list:x") or "")
    assert hint_for("rejected", message, "hubspot_list:x") == "contact deleted in HubSpot"


@pytest.mark.parametrize(
    ("target", "message", "expected"),
    [
        ("hubspot_list:a", None, "hubspot"),
        ("mailchimp_tag:a", None, "mailchimp"),
        ("hubspot_property:syncd", None, "hubspot"),
        (None, "mailchimp GET /lists: HTTP 500", "mailchimp"),
        (None, "timeout", None),
        (None, None, None),
    ],
)
def test_api_of(target: str | None, message: str | None, expected: str | None) -> None:
    assert api_of(target, message) == expected


def test_every_hint_is_one_line() -> None:
    for row in HINTS:
        assert "\n" not in row.hint
        assert not row.hint.endswith(".")
