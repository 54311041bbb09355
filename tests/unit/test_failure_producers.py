"""Each producer of a failure emits its reason code, and every code of the table has a producer.

Producers are tested where they live (the HTTP layer, each connector, the engine, the store);
`PRODUCERS` names, for every reason, the tests that show a producer emitting it, and the last
test here checks the list is complete. The producers that have no better home are tested here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ApplyResult, FieldMap, Member, MemberOutcome
from connectors.hubspot.failures import record_reason
from connectors.hubspot.write import HubSpotWriter
from connectors.mailchimp import MailchimpConnector
from connectors.mailchimp.failures import PHRASES, detect, member_reason
from syncd.engine.apply import ApplyReport
from syncd.engine.ledger import OutboxItem
from syncd.engine.outcome import settle
from syncd.engine.plan import Plan
from syncd.engine.run_record import RunResult
from syncd.engine.writers import MembershipWriter
from syncd.errors import ConfigError, TransientError, error_for
from syncd.failures import Reason
from syncd.http import RetrySettings
from syncd.store import RunStatus, make_engine
from syncd.store.db import check_migrated
from syncd.targets import TargetKind, TargetRef

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests/unit/test_failure_producers.py"
CONTRACT = "tests/integration/test_connector_contract.py"
APPLY = "tests/unit/engine/test_apply.py"
CLASSIFY = "tests/unit/test_http_classify.py"
QUIRKS = "tests/unit/test_http_mailchimp_quirks.py"
SPLIT = "tests/unit/test_http_split.py"
PULL = "tests/unit/engine/test_pull_store.py"
LIFE = "tests/e2e/test_crm_life.py"

#: Reason -> tests in which a producer emits it (`path::test name`).
PRODUCERS: dict[Reason, list[str]] = {
    Reason.AUTH_REFUSED: [
        f"{CONTRACT}::test_401_is_a_configuration_error_with_an_actionable_message",
        f"{CLASSIFY}::test_a_hubspot_401_is_a_config_error_without_secrets",
        f"{CLASSIFY}::test_a_mailchimp_401_advice_names_the_api_key_and_its_datacenter",
    ],
    Reason.SCOPE_MISSING: [f"{QUIRKS}::test_an_error_without_content_type_is_raised_not_returned"],
    Reason.AUDIENCE_MISSING: [f"{QUIRKS}::test_a_missing_audience_is_a_configuration_error"],
    Reason.TARGET_KIND_CONFLICT: [
        f"{CONTRACT}::test_a_dynamic_hubspot_list_of_that_name_is_a_configuration_error"
    ],
    Reason.NAME_TAKEN: [
        f"{CONTRACT}::test_a_name_held_by_something_syncd_did_not_make_is_a_configuration_error",
        f"{QUIRKS}::test_a_tag_name_taken_on_a_clean_create_is_a_configuration_error",
        f"{CLASSIFY}::test_hubspot_sub_category_names_a_taken_list_name",
    ],
    Reason.CREATE_REFUSED: [
        f"{QUIRKS}::test_another_refused_tag_create_is_a_configuration_error_with_the_vendor_reason"
    ],
    Reason.TARGET_SHARED: [f"{APPLY}::test_a_remote_id_kept_for_another_target_is_never_adopted"],
    Reason.NOT_MIGRATED: [
        "tests/unit/test_store.py::test_unmigrated_database_is_refused_with_a_clear_message"
    ],
    Reason.DATABASE_UNREACHABLE: [f"{HERE}::test_an_unreachable_database_is_named"],
    Reason.SUPERSEDED: [f"{APPLY}::test_newer_plan_supersedes_pending_rows"],
    Reason.HOLD_REJECTED: [
        "tests/e2e/test_holds.py::test_a_mass_removal_holds_only_its_targets_until_a_person_decides"
    ],
    Reason.CONFIG_INVALID: [
        "tests/unit/engine/test_runner_failures.py::"
        "test_the_run_row_and_its_log_line_carry_the_failure_s_reason"
    ],
    Reason.RATE_LIMITED: [f"{CLASSIFY}::test_a_hubspot_429_is_transient_with_the_wait_it_asks_for"],
    Reason.VENDOR_UNAVAILABLE: [
        f"{CLASSIFY}::test_transport_errors_are_transient_and_bugs_are_not_swallowed",
        f"{SPLIT}::test_transient_failures_become_retry_outcomes_and_config_errors_propagate",
    ],
    Reason.TARGET_MISSING: [f"{SPLIT}::test_a_missing_target_means_retry_after_ensure"],
    Reason.INTERRUPTED: [
        "tests/unit/engine/test_recovery.py::"
        "test_a_killed_run_is_closed_as_interrupted_with_its_figures",
        f"{HERE}::test_a_run_that_lost_its_lease_is_interrupted",
    ],
    Reason.TEMPORARY_FAILURE: [
        f"{CLASSIFY}::test_status_table",
        f"{APPLY}::test_transient_batch_failure_leaves_rows_for_retry",
    ],
    Reason.MEMBER_COMPLIANCE: [
        f"{CLASSIFY}::test_mailchimp_compliance_refusal_is_detected_by_the_connector",
        f"{HERE}::test_mailchimp_words_name_their_reason",
    ],
    Reason.MEMBER_FORGOTTEN: [f"{HERE}::test_mailchimp_words_name_their_reason"],
    Reason.CONTACT_DELETED: [
        f"{CONTRACT}::test_partial_failures_come_back_per_member",
        "tests/integration/test_connector_hubspot_properties.py::"
        "test_values_are_written_in_batches_of_100_with_outcomes_per_record",
        f"{HERE}::test_a_contact_without_an_id_in_the_target_system_is_deleted_there",
    ],
    Reason.CONTACT_GONE: [
        f"{LIFE}::test_deleted_merged_archived_and_erased_people_leave_without_drift"
    ],
    Reason.CONTACT_MERGED: [
        f"{PULL}::test_a_merge_folds_two_profiles_with_both_histories",
        f"{LIFE}::test_deleted_merged_archived_and_erased_people_leave_without_drift",
    ],
    Reason.MEMBER_ARCHIVED: [
        f"{PULL}::test_an_archived_member_has_its_tags_closed",
        f"{LIFE}::test_deleted_merged_archived_and_erased_people_leave_without_drift",
    ],
    Reason.MEMBER_GONE: [
        f"{LIFE}::test_deleted_merged_archived_and_erased_people_leave_without_drift"
    ],
    Reason.TARGET_DELETED: [
        f"{LIFE}::test_a_deleted_owned_list_and_tag_are_recorded_then_recreated_with_their_members"
    ],
    Reason.TARGET_DELETED_KEPT: [
        f"{LIFE}::test_on_deleted_target_stop_leaves_it_deleted",
        f"{APPLY}::test_a_target_left_deleted_is_recorded_and_the_others_are_written",
        "tests/integration/test_connector_deleted_targets.py::"
        "test_a_deleted_target_is_made_again_or_refused_as_kept_deleted",
    ],
    Reason.NOT_IN_AUDIENCE: [
        f"{CONTRACT}::test_partial_failures_come_back_per_member",
        f"{HERE}::test_mailchimp_words_name_their_reason",
    ],
    Reason.INVALID_EMAIL: [
        f"{PULL}::test_invalid_emails_are_rejected_and_recorded",
        f"{HERE}::test_hubspot_batch_errors_name_their_reason",
    ],
    Reason.NO_EMAIL: [
        f"{PULL}::test_invalid_emails_are_rejected_and_recorded",
        f"{HERE}::test_a_mailchimp_member_without_an_address_is_refused_as_no_email",
    ],
    # The store no longer refuses a shared address (identity follows record ids); a vendor's
    # 409 still names this code.
    Reason.DUPLICATE_EMAIL: [f"{CLASSIFY}::test_status_table"],
    Reason.BAD_RECORD_ID: [f"{HERE}::test_a_malformed_hubspot_id_is_refused_without_a_call"],
    Reason.BATCH_TOO_LARGE: [
        f"{CLASSIFY}::test_status_table",
        f"{HERE}::test_mailchimp_words_name_their_reason",
    ],
    Reason.RECORD_REFUSED: [
        f"{SPLIT}::test_a_refused_batch_is_halved_until_the_bad_record_is_alone",
        f"{HERE}::test_hubspot_batch_errors_name_their_reason",
    ],
    Reason.NO_OUTCOME: [
        f"{APPLY}::test_a_row_the_answer_does_not_mention_is_retried_as_no_outcome",
        f"{HERE}::test_a_contact_without_an_id_in_the_target_system_is_deleted_there",
    ],
    Reason.INTERNAL: [
        "tests/unit/test_http_paging.py::test_a_repeated_token_stops_the_read_naming_the_endpoint",
        "tests/unit/engine/test_runner_failures.py::"
        "test_the_run_row_and_its_log_line_carry_the_failure_s_reason",
    ],
}


# -- the store -----------------------------------------------------------------------------------


def test_an_unreachable_database_is_named(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'syncd.db'}")
    try:
        with pytest.raises(ConfigError, match="cannot open the database") as info:
            check_migrated(db)
    finally:
        db.dispose()
    assert info.value.reason is Reason.DATABASE_UNREACHABLE
    assert "database_url" in str(info.value)


# -- connectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("phrase", "reason"), PHRASES)
def test_mailchimp_words_name_their_reason(phrase: str, reason: Reason) -> None:
    title = phrase.title()
    assert detect(400, {"title": title, "status": 400, "detail": "x"}) is reason
    assert detect(400, {"title": "Invalid Resource", "detail": f"Sorry, {phrase}."}) is reason
    assert member_reason(f"Some {title} here") is reason


def test_mailchimp_words_it_does_not_know_keep_the_status_s_reason() -> None:
    assert detect(400, {"title": "Invalid Resource", "detail": "Name is too long."}) is None
    assert detect(400, "<html>") is None
    assert member_reason("something new") is Reason.RECORD_REFUSED


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ({"category": "OBJECT_NOT_FOUND", "message": "gone"}, Reason.CONTACT_DELETED),
        ({"category": "VALIDATION_ERROR",
          "message": 'Property values were not valid: [{"error":"INVALID_EMAIL"}]'},
         Reason.INVALID_EMAIL),
        ({"category": "VALIDATION_ERROR", "errors": [{"code": "INVALID_EMAIL"}]},
         Reason.INVALID_EMAIL),
        ({"category": "VALIDATION_ERROR", "message": "not-an-option was not one of"},
         Reason.RECORD_REFUSED),
    ],
)  # fmt: skip
def test_hubspot_batch_errors_name_their_reason(error: dict[str, Any], reason: Reason) -> None:
    assert record_reason(error) is reason


class NoCalls:
    """A client that fails the test if it is called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to {name}")


def test_a_malformed_hubspot_id_is_refused_without_a_call() -> None:
    client: Any = NoCalls()
    result = HubSpotWriter(client).apply("7", [Member("abc")], [Member("12x")])
    assert {(o.remote_id, o.outcome, o.reason) for o in result.outcomes} == {
        ("abc", "rejected", Reason.BAD_RECORD_ID),
        ("12x", "rejected", Reason.BAD_RECORD_ID),
    }


def test_a_mailchimp_member_without_an_address_is_refused_as_no_email() -> None:
    connector = MailchimpConnector(
        api_key="0123456789abcdef-us9", audience_id="aud1", field_map=FieldMap(),
        retry=RetrySettings.immediate(), base_url="http://127.0.0.1:9/3.0",
    )  # fmt: skip
    (only,) = connector.apply("5", [Member("h1")], []).outcomes
    assert (only.outcome, only.reason, only.message) == (
        "rejected",
        Reason.NO_EMAIL,
        "no email address",
    )
    assert connector.stats.api("mailchimp").api_calls == 0


# -- the engine ----------------------------------------------------------------------------------


class OneAnswer:
    """A connector whose `apply` answers for the first member only."""

    name = "hubspot"

    def apply(self, remote_id: str, adds: Sequence[Member], removes: Sequence[Member]) -> Any:
        result = ApplyResult()
        result.add([MemberOutcome(adds[0].remote_id, "add", "applied")])
        return result


def item(row_id: int, hubspot_id: str | None) -> OutboxItem:
    return OutboxItem(
        id=row_id, run_id=1, target="hubspot_list:vip", contact_id=row_id, action="add",
        value=None, reason="r", attempts=0, email=f"p{row_id}@example.com",
        hubspot_id=hubspot_id, mailchimp_id=None,
    )  # fmt: skip


def test_a_contact_without_an_id_in_the_target_system_is_deleted_there() -> None:
    connector: Any = OneAnswer()
    writer = MembershipWriter(connector)
    ref = TargetRef(TargetKind.HUBSPOT_LIST, "vip")
    out = writer.write(ref, "7", [item(1, "101"), item(2, None), item(3, "103")])
    assert (out[1].outcome, out[1].reason) == ("applied", None)
    assert (out[2].outcome, out[2].reason) == ("rejected", Reason.CONTACT_DELETED)
    assert (out[3].outcome, out[3].reason) == ("retry", Reason.NO_OUTCOME)


def settled(report: ApplyReport) -> RunResult:
    result = RunResult(run_id=1, status=RunStatus.RUNNING, trigger="manual", plan=Plan([], []))
    settle(result, report)
    return result


def test_a_run_that_lost_its_lease_is_interrupted() -> None:
    result = settled(ApplyReport(lost=True))
    assert (result.status, result.reason) == (RunStatus.INTERRUPTED, Reason.INTERRUPTED)


def test_the_failure_that_speaks_for_a_run_comes_first_with_its_reason() -> None:
    refused = error_for(Reason.AUTH_REFUSED, "mailchimp GET /ping: HTTP 401", api="mailchimp")
    report = ApplyReport(apis=["hubspot", "mailchimp"])
    report.failures = {
        "hubspot": TransientError("hubspot PUT /x: HTTP 503", reason=Reason.VENDOR_UNAVAILABLE),
        "mailchimp": refused,
    }
    result = settled(report)
    assert (result.status, result.error_class, result.reason) == (
        RunStatus.FAILED,
        "config",
        Reason.AUTH_REFUSED,
    )
    # The run's advice takes its vendor from the head of the message.
    assert result.error is not None and result.error.startswith("mailchimp: ")


# -- completeness --------------------------------------------------------------------------------


def _tests_in(path: str) -> dict[str, str]:
    """Test function name -> its source, decorators included."""
    text = (ROOT / path).read_text()
    lines = text.splitlines()
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out[node.name] = "\n".join(lines[first - 1 : node.end_lineno])
    return out


def _refs() -> Iterator[tuple[Reason, str, str]]:
    for reason, refs in PRODUCERS.items():
        for ref in refs:
            path, _, name = ref.partition("::")
            yield reason, path, name


def test_every_reason_of_the_table_has_a_producer_test() -> None:
    assert set(PRODUCERS) == set(Reason)
    for reason, path, name in _refs():
        found = _tests_in(path)
        assert name in found, f"{reason}: no test {name} in {path}"
        text = (ROOT / path).read_text()
        assert reason.name in text or f'"{reason.value}"' in text, f"{reason}: {path}"
