"""Rows written before reason codes existed: migration 0005 gives each its code, once.

The cases are the messages syncd really stored (they were the old hint table's tests). Each must
map to the code whose advice now stands for it; the advice shown afterwards is the table's,
which is the old hint word for word except where two tables used to disagree (marked).
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import MetaData, Table, select

from syncd.failures import FAILURES, Reason, advice, stored_advice
from syncd.store import make_engine, upgrade
from syncd.store.history import AuditFilter, list_events, list_runs
from syncd.store.models import AuditEvent, OutboxEntry
from syncd.store.types import table_of

VERSIONS = Path(__file__).resolve().parents[2] / "syncd/store/migrations/versions"
HS = "hubspot PUT /crm/v3/lists/{listId}/memberships/add-and-remove"
MC = "mailchimp POST /lists/{list_id}/segments/{segment_id}"


def load_migration() -> ModuleType:
    (path,) = VERSIONS.glob("0005_*.py")
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M0005 = load_migration()

# (old hint row, error_class, stored message, target, code, advice shown now)
CASES: list[tuple[str, str | None, str, str | None, Reason, str]] = [
    ("mailchimp_compliance", "rejected",
     "mailchimp PATCH /lists/{list_id}/members/{hash}: HTTP 400: Member In Compliance State",
     "mailchimp_tag:vip", Reason.MEMBER_COMPLIANCE,
     "member unsubscribed; syncd never re-subscribes"),
    ("mailchimp_forgotten", "rejected",
     "mailchimp PUT /lists/{list_id}/members/{hash}: HTTP 400: Forgotten Email Not Subscribed",
     None, Reason.MEMBER_FORGOTTEN,
     "member asked Mailchimp to forget them; syncd never re-adds them"),
    ("interrupted", "transient",
     "interrupted: the apply lease was lost to another writer; what this run had not "
     "confirmed is left to it", None, Reason.INTERRUPTED,
     "the run stopped before it finished (killed, or overtaken after losing its lease); "
     "the next run resends what it had not confirmed"),
    # Two wordings used to disagree: the release refusal's and the outbox row's.
    ("superseded", None, "superseded by run 12", None, Reason.SUPERSEDED,
     advice(Reason.SUPERSEDED)),
    # Two wordings used to disagree: the raise-time hint and the stored-message hint.
    ("hubspot_list_kind", "config", "HubSpot list 'syncd: vip' (id 9) is a DYNAMIC list of 0-1",
     None, Reason.TARGET_KIND_CONFLICT, advice(Reason.TARGET_KIND_CONFLICT, "hubspot")),
    ("not_migrated", "config",
     "database sqlite:///x.db has no syncd schema; this syncd needs revision 0003", None,
     Reason.NOT_MIGRATED, "run `syncd db upgrade`"),
    ("database_unreachable", "config",
     "cannot open the database postgresql://u@h/db: connection refused", None,
     Reason.DATABASE_UNREACHABLE,
     "check database_url and that the database server is reachable"),
    # The bug of issue #12: a refused HubSpot token was advised as a missing scope.
    ("hubspot_401", "config", f"{HS}: HTTP 401: Authentication credentials not found",
     "hubspot_list:vip", Reason.AUTH_REFUSED, advice(Reason.AUTH_REFUSED, "hubspot")),
    ("mailchimp_401", "config", f"{MC}: HTTP 401: API Key Invalid", None, Reason.AUTH_REFUSED,
     advice(Reason.AUTH_REFUSED, "mailchimp")),
    ("auth_401", "config", "HTTP 401: Unauthorized", None, Reason.AUTH_REFUSED,
     "credentials refused; check the token or API key"),
    ("hubspot_403", "config",
     f"{HS}: HTTP 403: This app hasn't been granted all required scopes", "hubspot_list:vip",
     Reason.SCOPE_MISSING, advice(Reason.SCOPE_MISSING, "hubspot")),
    ("mailchimp_403", "config", f"{MC}: HTTP 403: Forbidden", "mailchimp_tag:vip",
     Reason.SCOPE_MISSING, advice(Reason.SCOPE_MISSING, "mailchimp")),
    ("auth_403", "config", "HTTP 403", None, Reason.SCOPE_MISSING,
     "missing scope or permission for this call"),
    ("rate_limited", "transient", f"{MC}: HTTP 429: Too Many Requests", "mailchimp_tag:vip",
     Reason.RATE_LIMITED, "rate limited; will retry next run"),
    ("target_missing", "transient", f"{HS}: HTTP 404: list not found", "hubspot_list:vip",
     Reason.TARGET_MISSING, "the list or tag was deleted remotely; syncd recreates it next run"),
    ("vendor_unavailable", "transient", f"{HS}: HTTP 502: Bad Gateway", "hubspot_list:vip",
     Reason.VENDOR_UNAVAILABLE, "vendor unavailable; left in the outbox for the next run"),
    ("no_email", "rejected", "invalid: no email address", "mailchimp_tag:vip", Reason.NO_EMAIL,
     "the contact has no email address; add one in the source system"),
    ("invalid_email", "rejected", "validation_error: Email address [email] is invalid",
     "hubspot_property:syncd", Reason.INVALID_EMAIL, "fix the address in the source system"),
    ("duplicate_email", "rejected",
     "hubspot POST /crm/v3/objects/contacts: HTTP 409: Contact already exists.", None,
     Reason.DUPLICATE_EMAIL, "two contacts share this address; merge them in the source system"),
    ("hubspot_not_found", "rejected", "not_found: no such contact (recordIdsMissing)",
     "hubspot_list:vip", Reason.CONTACT_DELETED, "contact deleted in HubSpot"),
    ("mailchimp_not_found", "rejected", "not_found: Email addresses do not exist in the list",
     "mailchimp_tag:vip", Reason.NOT_IN_AUDIENCE,
     "contact is not in the Mailchimp audience (deleted or archived there)"),
    ("not_found", "rejected", "contact no longer exists in the target system", None,
     Reason.CONTACT_DELETED, "contact deleted in the target system"),
    ("bad_record_id", "rejected", "invalid: not a record id", None, Reason.BAD_RECORD_ID,
     "the stored HubSpot id is malformed; `syncd sync --full` refreshes it"),
    ("batch_too_large", "rejected", "Invalid Resource — Maximum allowed member items exceeded",
     None, Reason.BATCH_TOO_LARGE,
     "a batch was too large for the API; please report this as a syncd bug"),
    ("no_outcome", "system", "no outcome reported for this row", None, Reason.NO_OUTCOME,
     "the vendor's answer did not mention this contact; retried next run"),
    ("config", "config", "mappings/segments.yaml: segments[2].when: unknown field", None,
     Reason.CONFIG_INVALID,
     "a person must fix the configuration or credentials; `syncd check` shows what"),
    ("transient", "transient", "retryable failure", None, Reason.TEMPORARY_FAILURE,
     "temporary failure; retried next run"),
    ("rejected", "rejected", "validation_error: Property values were not valid",
     "hubspot_property:syncd", Reason.RECORD_REFUSED,
     "the vendor refused this record as sent; fix it in the source system"),
    ("system", "system", "KeyError('members')", None, Reason.INTERNAL,
     "unexpected error inside syncd; please report it with the run id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("error_class", "message", "target", "code", "shown"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_every_old_message_maps_to_the_code_of_its_advice(
    error_class: str | None, message: str, target: str | None, code: Reason, shown: str
) -> None:
    assert M0005.legacy_reason(error_class, message, target) == code
    assert stored_advice(code, error_class, message, target) == shown


def test_every_rule_of_the_old_table_is_exercised_and_names_a_known_code() -> None:
    codes = {code for code, _, _, _ in M0005.RULES} | set(M0005.FALLBACK.values())
    assert codes <= {r.value for r in FAILURES}
    exercised = {case[4].value for case in CASES} | set(_EXTRA.values())
    assert codes <= exercised


#: Messages syncd stored that the old table advised wrongly or not at all.
_EXTRA = {
    "hubspot: cannot create HubSpot list 'syncd: vip': HTTP 400: A list named 'syncd: vip' "
    "already exists. (a list with that name exists but is not the one syncd created; "
    "rename or delete it)": "name_taken",
    "mailchimp: cannot create Mailchimp tag 'syncd:vip': HTTP 400: Name is too long. "
    "(the API refused the create for the reason it gives)": "create_refused",
    "mailchimp answered with 'syncd:gold' (id 7), which syncd already keeps for "
    "mailchimp_tag:vip (two segments map to one remote list or tag; rename one of them)":
        "target_shared",
    "Mailchimp audience 'abc' does not exist (set mailchimp.audience_id to an id from "
    "Audience > Settings)": "audience_missing",
    "Mailchimp segment 'syncd:vip' (id 3) is a saved segment (syncd writes only tags (static "
    "segments); rename the existing segment)": "target_kind_conflict",
}  # fmt: skip


@pytest.mark.parametrize(("message", "code"), list(_EXTRA.items()))
def test_messages_the_old_table_misread_get_their_own_code(message: str, code: str) -> None:
    assert M0005.legacy_reason("config", message, None) == code


def test_the_vendor_comes_from_the_message_when_no_target_is_given() -> None:
    code = M0005.legacy_reason("config", f"{MC}: HTTP 401: API Key Invalid", None)
    assert stored_advice(code, "config", f"{MC}: HTTP 401: API Key Invalid") == (
        advice(Reason.AUTH_REFUSED, "mailchimp")
    )
    assert M0005.legacy_reason("rejected", f"{MC}: HTTP 404", None) == "not_in_audience"


def test_a_row_given_up_keeps_the_code_of_its_cause_or_none() -> None:
    message = f"gave up after 5 attempts: {MC}: HTTP 503: Service Unavailable"
    assert M0005.legacy_reason("transient", message, "mailchimp_tag:vip") == "vendor_unavailable"
    assert M0005.legacy_reason("transient", "gave up after 3 attempts: ???", None) is None
    assert M0005.legacy_reason("system", "gave up after 3 attempts", None) is None


def test_matching_ignores_case_and_vendor_refusals_win_over_their_status() -> None:
    assert M0005.legacy_reason("rejected", "MEMBER IN COMPLIANCE STATE", None) == (
        "member_compliance"
    )
    message = f"{MC}: HTTP 400: Member In Compliance State — [email] is already a list member"
    assert M0005.legacy_reason("rejected", message, None) == "member_compliance"


def test_a_404_that_was_retried_means_the_target_but_rejected_means_the_contact() -> None:
    message = f"{HS}: HTTP 404: Not Found"
    assert M0005.legacy_reason("transient", message, "hubspot_list:x") == "target_missing"
    assert M0005.legacy_reason("rejected", message, "hubspot_list:x") == "contact_deleted"


def test_a_success_gets_no_code() -> None:
    assert M0005.legacy_reason(None, None, None) is None
    assert M0005.legacy_reason(None, "something nobody anticipated", None) is None


# -- the migration itself, on both databases ------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _insert_0004(url: str) -> None:
    """Rows as syncd wrote them at revision 0004, into the tables as they were then."""
    db = make_engine(url)
    with db.begin() as conn:
        meta = MetaData()
        tables = {
            name: Table(name, meta, autoload_with=conn)
            for name in ("contacts", "sync_runs", "audit_events", "outbox")
        }
        assert "reason_code" not in tables["sync_runs"].c
        conn.execute(
            tables["contacts"].insert().values(
                id=1, workspace="default", email="ann@example.com", attributes={},
                created_at=T0, updated_at=T0,
            )
        )  # fmt: skip
        run = {"workspace": "default", "trigger": "manual", "full": False, "dry_run": False,
               "started_at": T0, "counts": {}, "api_calls": 0, "http_429": 0}  # fmt: skip
        refused = f"{HS}: HTTP 401: Authentication credentials not found (token expired or " \
            "missing the crm.lists.write scope)"  # fmt: skip
        conn.execute(
            tables["sync_runs"].insert(),
            [
                {**run, "id": 1, "status": "failed", "error_class": "config",
                 "error_message": refused},
                {**run, "id": 2, "status": "success", "error_class": None, "error_message": None},
            ],
        )  # fmt: skip
        event = {"workspace": "default", "at": T0, "action": "add", "contact_id": 1,
                 "target": "hubspot_list:vip", "email": "ann@example.com"}  # fmt: skip
        conn.execute(
            tables["audit_events"].insert(),
            [
                {**event, "id": 1, "run_id": 1, "outcome": "rejected", "error_class": "rejected",
                 "message": "not_found: no such contact (recordIdsMissing)"},
                {**event, "id": 2, "run_id": 2, "outcome": "applied", "error_class": None,
                 "message": None},
                {**event, "id": 3, "run_id": 1, "outcome": "rejected",
                 "error_class": "transient",
                 "message": f"gave up after 5 attempts: {HS}: HTTP 503: down"},
            ],
        )  # fmt: skip
        outbox = {"workspace": "default", "run_id": 1, "target": "hubspot_list:vip",
                  "contact_id": 1, "action": "add", "payload": {}, "attempts": 1,
                  "created_at": T0, "updated_at": T0}  # fmt: skip
        conn.execute(
            tables["outbox"].insert(),
            [
                {**outbox, "id": n, "state": state, "last_error": last_error}
                for n, (state, last_error) in enumerate(
                    [
                        ("cancelled", "superseded by run 2"),
                        ("cancelled", "run 1 was interrupted before sending it; re-planned"),
                        ("pending", "retryable failure"),
                        ("done", "retryable failure"),
                    ],
                    start=1,
                )
            ],
        )
    db.dispose()


def test_the_migration_gives_old_failures_their_codes(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0004")
    _insert_0004(empty_db_url)
    upgrade(empty_db_url)
    db = make_engine(empty_db_url)
    try:
        with db.connect() as conn:
            o = table_of(OutboxEntry).c
            outbox = conn.execute(select(o.state, o.reason_code).order_by(o.id)).all()
            a = table_of(AuditEvent).c
            audit = conn.execute(select(a.outcome, a.reason_code).order_by(a.id)).all()
        assert outbox == [
            ("cancelled", "superseded"),
            ("cancelled", "interrupted"),
            ("pending", "temporary_failure"),
            ("done", None),
        ]
        assert audit == [
            ("rejected", "contact_deleted"),
            ("applied", None),
            ("rejected", "vendor_unavailable"),
        ]
        failed, ok = sorted(list_runs(db, "default"), key=lambda r: r["id"])
        assert (failed["reason_code"], ok["reason_code"]) == ("auth_refused", None)
        assert failed["hint"] == advice(Reason.AUTH_REFUSED, "hubspot")
        assert re.search(r"\bscope\b", failed["hint"]) is None
        events = list_events(db, "default", AuditFilter(), T0)
        hints = {e["id"]: e["hint"] for e in events}
        assert hints[1] == "contact deleted in HubSpot"
        assert hints[2] is None
        assert hints[3] == (
            "stopped after 5 failed attempts; the next run plans it again "
            "(vendor unavailable; left in the outbox for the next run)"
        )
    finally:
        db.dispose()
