"""Run history, change log, exports and membership history, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from syncd.errors import ConfigError
from syncd.failures import Reason, advice
from syncd.store.history import (
    EVENT_COLUMNS,
    AuditFilter,
    events_to_csv,
    events_to_json,
    list_events,
    list_runs,
    membership_history,
)
from syncd.store.models import AuditEvent, SyncRun
from syncd.store.types import table_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WS = "default"
MC_429 = "mailchimp POST /lists/{list_id}/segments/{segment_id}: HTTP 429: Too Many Requests"


def add_run(db: Engine, run_id: int, status: str = "success", **values: Any) -> None:
    row: dict[str, Any] = {
        "id": run_id,
        "workspace": WS,
        "trigger": "schedule",
        "status": status,
        "full": False,
        "dry_run": False,
        "started_at": T0 + timedelta(hours=run_id),
        "finished_at": T0 + timedelta(hours=run_id, seconds=30),
        "counts": {},
        "api_calls": 0,
        "http_429": 0,
    }
    row.update(values)
    with db.begin() as conn:
        conn.execute(table_of(SyncRun).insert(), [row])


def add_event(db: Engine, run_id: int | None, minutes: float, **values: Any) -> None:
    row: dict[str, Any] = {
        "workspace": WS,
        "run_id": run_id,
        "at": T0 + timedelta(minutes=minutes),
        "contact_id": 1,
        "email": "ann@example.com",
        "hubspot_id": "101",
        "mailchimp_id": "abc",
        "segment": "vip",
        "target": "hubspot_list:vip",
        "action": "add",
        "reason": "rule segments/vip matched",
        "outcome": "applied",
        "error_class": None,
        "message": None,
    }
    row.update(values)
    with db.begin() as conn:
        conn.execute(table_of(AuditEvent).insert(), [row])


# --- runs --------------------------------------------------------------------------------------


def test_runs_newest_first_with_totals_and_per_api_figures(db: Engine) -> None:
    counts = {
        "targets": {
            "hubspot_list:vip": {"planned_add": 3, "added": 2, "rejected": 1},
            "mailchimp_tag:vip": {"planned_add": 3, "added": 3, "skipped_consent": 2},
        },
        "pulled": {"hubspot": 10},
        "api_calls": {"hubspot": 4, "mailchimp": 2},
        "http_429": {"mailchimp": 1},
    }
    add_run(db, 1)
    add_run(db, 2, "partial", counts=counts, api_calls=6, http_429=1)
    runs = list_runs(db, WS)
    assert [r["id"] for r in runs] == [2, 1]
    newest = runs[0]
    assert newest["totals"]["added"] == 5
    assert newest["totals"]["rejected"] == 1
    assert newest["totals"]["skipped_consent"] == 2
    assert newest["totals"]["removed"] == 0
    assert newest["counts"]["hubspot_list:vip"]["added"] == 2
    assert newest["api_calls_by_api"] == {"hubspot": 4, "mailchimp": 2}
    assert newest["http_429_by_api"] == {"mailchimp": 1}
    assert newest["duration_s"] == 30.0
    assert runs[1]["hint"] is None
    json.dumps(runs)  # ready for --json


def test_runs_status_filter(db: Engine) -> None:
    add_run(
        db, 1, "failed", error_class="config", error_message="HTTP 401", reason_code="auth_refused"
    )
    add_run(db, 2, "success")
    add_run(
        db, 3, "failed", error_class="transient", error_message="HTTP 503",
        reason_code="vendor_unavailable",
    )  # fmt: skip
    assert [r["id"] for r in list_runs(db, WS, status="failed")] == [3, 1]
    assert list_runs(db, WS, status="held") == []


def test_unknown_status_is_a_usage_error(db: Engine) -> None:
    with pytest.raises(ConfigError, match="unknown run status 'broken'"):
        list_runs(db, WS, status="broken")


def test_failed_run_carries_its_error_class_reason_and_hint(db: Engine) -> None:
    message = "hubspot GET /crm/v3/lists: HTTP 401: Authentication credentials not found"
    add_run(
        db, 1, "failed", error_class="config", error_message=message, reason_code="auth_refused"
    )
    (run,) = list_runs(db, WS)
    assert run["error_class"] == "config"
    assert run["reason_code"] == "auth_refused"
    assert run["error"] == message
    # The advice of a refused HubSpot token names the token setting, not a scope.
    assert run["hint"] == advice(Reason.AUTH_REFUSED, "hubspot")
    assert "hubspot.access_token" in run["hint"] and "scope" not in run["hint"]


def test_advice_comes_from_the_code_not_the_message(db: Engine) -> None:
    add_run(
        db, 1, "failed", error_class="transient", error_message="reworded in a later version",
        reason_code="rate_limited",
    )  # fmt: skip
    add_run(db, 2, "failed", error_class="system", error_message="HTTP 429 in the text")
    first, second = sorted(list_runs(db, WS), key=lambda r: r["id"])
    assert first["hint"] == "rate limited; will retry next run"
    # Without a code only the class speaks: the message's words are not matched.
    assert second["hint"] == advice(Reason.INTERNAL)


def test_held_run_says_how_to_release_it(db: Engine) -> None:
    add_run(
        db,
        4,
        "held",
        counts={
            "held_reasons": ["hubspot_list:vip: 50 removals"],
            "held": {"hubspot_list:vip": "hubspot_list:vip: 50 removals"},
        },
    )
    (run,) = list_runs(db, WS)
    assert run["held_reasons"] == ["hubspot_list:vip: 50 removals"]
    assert run["held_targets"] == ["hubspot_list:vip"]
    assert "syncd plan --run 4" in run["hint"]
    assert "syncd apply --run 4" in run["hint"] and "syncd reject --run 4" in run["hint"]


def test_partial_run_lists_its_most_frequent_failures(db: Engine) -> None:
    add_run(db, 1, "partial")
    compliance = "Member In Compliance State"
    for n in range(3):
        add_event(
            db,
            1,
            n,
            target="mailchimp_tag:vip",
            outcome="retry",
            error_class="transient",
            message=MC_429,
            reason_code="rate_limited",
            contact_id=n,
        )
    add_event(
        db,
        1,
        5,
        target="mailchimp_tag:vip",
        outcome="rejected",
        error_class="rejected",
        message=compliance,
        reason_code="member_compliance",
    )
    add_event(db, 1, 6)  # applied: not a failure
    (run,) = list_runs(db, WS, failures=5)
    assert [(f["outcome"], f["count"]) for f in run["failures"]] == [("retry", 3), ("rejected", 1)]
    assert [f["reason_code"] for f in run["failures"]] == ["rate_limited", "member_compliance"]
    assert run["failures"][1]["hint"] == "member unsubscribed; syncd never re-subscribes"
    assert run["hint"] == "rate limited; will retry next run"
    (run,) = list_runs(db, WS, failures=1)
    assert len(run["failures"]) == 1


def test_runs_of_other_workspaces_are_not_shown(db: Engine) -> None:
    add_run(db, 1, workspace="other")
    assert list_runs(db, WS) == []


# --- change log --------------------------------------------------------------------------------


@pytest.fixture
def log_rows(db: Engine) -> Engine:
    """Two runs of events across two contacts, two segments and both outcomes."""
    add_run(db, 1)
    add_run(db, 2, "partial")
    add_event(db, 1, 0)
    add_event(db, 1, 1, target="mailchimp_tag:vip")
    add_event(
        db,
        1,
        2,
        email="bob@example.com",
        contact_id=2,
        segment="trial",
        target="hubspot_list:trial",
    )
    add_event(db, 2, 60 * 24 * 3, action="remove")
    add_event(
        db,
        2,
        60 * 24 * 3 + 1,
        email="bob@example.com",
        contact_id=2,
        target="mailchimp_tag:vip",
        outcome="rejected",
        error_class="rejected",
        message="Member In Compliance State",
        reason_code="member_compliance",
    )
    add_event(db, None, 60 * 24 * 3 + 2, workspace="other")
    return db


NOW = T0 + timedelta(days=4)


def _ids(rows: list[dict[str, Any]]) -> list[tuple[int | None, str | None, str | None]]:
    return [(r["run_id"], r["email"], r["target"]) for r in rows]


def test_events_newest_first_of_the_workspace_only(log_rows: Engine) -> None:
    rows = list_events(log_rows, WS, AuditFilter(), NOW)
    assert len(rows) == 5
    ats = [r["at"] for r in rows]
    assert ats == sorted(ats, reverse=True)
    assert all(r["workspace"] == WS for r in rows)


def test_contact_filter_ignores_case_and_spaces(log_rows: Engine) -> None:
    rows = list_events(log_rows, WS, AuditFilter(contact="  BOB@Example.com "), NOW)
    assert _ids(rows) == [
        (2, "bob@example.com", "mailchimp_tag:vip"),
        (1, "bob@example.com", "hubspot_list:trial"),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (AuditFilter(segment="trial"), 1),
        (AuditFilter(run_id=2), 2),
        (AuditFilter(target="mailchimp_tag:vip"), 2),
        (AuditFilter(since=timedelta(days=1)), 2),
        (AuditFilter(since=timedelta(days=5)), 5),
        (AuditFilter(outcome="rejected"), 1),
        (AuditFilter(action="remove"), 1),
        (AuditFilter(contact="ann@example.com", run_id=1, target="hubspot_list:vip"), 1),
        (AuditFilter(limit=2), 2),
        (AuditFilter(contact="nobody@example.com"), 0),
    ],
)
def test_filters(log_rows: Engine, filters: AuditFilter, expected: int) -> None:
    assert len(list_events(log_rows, WS, filters, NOW)) == expected


def test_failed_events_carry_a_hint_and_applied_ones_none(log_rows: Engine) -> None:
    rows = list_events(log_rows, WS, AuditFilter(), NOW)
    hints = {r["outcome"]: r["hint"] for r in rows}
    assert hints["rejected"] == "member unsubscribed; syncd never re-subscribes"
    assert hints["applied"] is None


def test_csv_export_has_a_stable_header_and_one_line_per_event(log_rows: Engine) -> None:
    rows = list_events(log_rows, WS, AuditFilter(), NOW)
    text = events_to_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert tuple(parsed[0]) == EVENT_COLUMNS
    assert len(parsed) == 1 + len(rows)
    first = dict(zip(EVENT_COLUMNS, parsed[1], strict=True))
    assert first["id"] == str(rows[0]["id"])
    assert first["hint"] == "member unsubscribed; syncd never re-subscribes"
    assert first["reason_code"] == "member_compliance"
    assert first["value"] == ""
    assert EVENT_COLUMNS[-2:] == ("hint", "reason_code")  # new columns go last


def test_csv_neutralises_spreadsheet_formulas() -> None:
    text = events_to_csv([{"id": 1, "message": '=HYPERLINK("x")', "reason": "-1+2"}])
    row = dict(zip(EVENT_COLUMNS, list(csv.reader(io.StringIO(text)))[1], strict=True))
    assert row["message"] == '\'=HYPERLINK("x")'
    assert row["reason"] == "'-1+2"
    assert row["id"] == "1"


def test_json_export_round_trips(log_rows: Engine) -> None:
    rows = list_events(log_rows, WS, AuditFilter(run_id=1), NOW)
    decoded = json.loads(events_to_json(rows))
    assert [list(d) for d in decoded] == [list(EVENT_COLUMNS)] * len(rows)
    assert [d["id"] for d in decoded] == [r["id"] for r in rows]


# --- membership history ------------------------------------------------------------------------


def test_membership_history_entries_exits_and_reentries(db: Engine) -> None:
    for run in (1, 2, 3, 4):
        add_run(db, run)
    add_event(db, 1, 0)  # enters the list
    add_event(db, 1, 1, target="mailchimp_tag:vip")  # and the tag
    add_event(db, 1, 2, target="hubspot_property:syncd", action="set", segment=None)
    add_event(db, 2, 10, action="remove", reason="rule segments/vip no longer matches")
    add_event(
        db,
        2,
        11,
        target="mailchimp_tag:vip",
        action="remove",
        outcome="retry",
        error_class="transient",
        message=MC_429,
        reason_code="rate_limited",
    )
    add_event(db, 3, 20)  # re-enters the list
    add_event(
        db,
        4,
        30,
        target="mailchimp_tag:vip",
        action="drift",
        outcome="detected",
        reason="removed by hand; not re-added until re-entry",
    )
    add_event(db, 4, 31, email="bob@example.com", contact_id=2)
    spans = membership_history(db, WS, "Ann@Example.com")
    assert [(s["target"], s["entered_run"], s["left_run"], s["state"]) for s in spans] == [
        ("hubspot_list:vip", 1, 2, "left"),
        ("mailchimp_tag:vip", 1, 4, "removed_by_hand"),
        ("hubspot_list:vip", 3, None, "member"),
    ]
    first = spans[0]
    assert first["segment"] == "vip"
    assert first["entered_at"] == T0.isoformat()
    assert first["left_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert first["entered_reason"] == "rule segments/vip matched"
    assert first["left_reason"] == "rule segments/vip no longer matches"


def test_membership_added_by_hand_and_pruned_entries(db: Engine) -> None:
    add_run(db, 1)
    add_run(db, 2)
    add_event(db, 1, 0, action="remove")  # its add was pruned
    add_event(
        db,
        2,
        5,
        target="mailchimp_tag:vip",
        action="drift",
        outcome="detected",
        reason="added by hand; left alone",
    )
    add_event(db, 2, 6, target="mailchimp_tag:vip")  # a repeated add changes nothing
    spans = membership_history(db, WS, "ann@example.com")
    assert [(s["target"], s["entered_run"], s["left_run"], s["state"]) for s in spans] == [
        ("hubspot_list:vip", None, 1, "left"),
        ("mailchimp_tag:vip", 2, None, "added_by_hand"),
    ]


def test_membership_history_of_unknown_contact_is_empty(db: Engine) -> None:
    assert membership_history(db, WS, "nobody@example.com") == []
