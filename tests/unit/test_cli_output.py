"""Output that tells the whole truth: 80-column tables, pages with counts, logs off stdout."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import insert
from typer.testing import CliRunner

from syncd.cli import app
from syncd.cli.render import print_events, print_runs
from syncd.logs import configure_logging
from syncd.store import make_engine, upgrade
from syncd.store.models import AuditEvent, RunStatus, SyncRun
from syncd.store.types import table_of

runner = CliRunner()
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def _run(run_id: int, status: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "status": status,
        "trigger": "reconcile",
        "started_at": "2026-11-28T13:06:06.123456+00:00",
        "duration_s": 1234.5,
        "counts": {"hubspot_list:renewal-due": {"added": 12345, "removed": 678, "rejected": 9}},
        "api_calls": 123456,
        "http_429": 12,
        "hint": "held by a safety guard; review with `syncd plan`, release with `syncd apply`",
        "error": None,
        "held_reasons": [],
        "failures": [],
    }


def _event(n: int, outcome: str) -> dict[str, Any]:
    return {
        "at": "2026-11-28T13:06:06+00:00",
        "run_id": 123,
        "email": f"someone.with.a.long.name{n}@a-rather-long-company-domain.example.com",
        "target": "hubspot_list:upsell-growing-accounts",
        "action": "remove",
        "outcome": outcome,
        "reason": "rule segments/upsell-growing-accounts no longer matches",
        "message": "member in compliance state" if outcome == "rejected" else None,
        "hint": "the member is in compliance review" if outcome == "rejected" else None,
    }


def _render(width: int, printer: Any, rows: list[dict[str, Any]]) -> list[str]:
    buffer = io.StringIO()
    printer(Console(file=buffer, width=width, color_system=None), rows)
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 100, 160])
def test_runs_fit_the_width_and_never_cut_a_status(width: int) -> None:
    statuses = [s.value for s in RunStatus]
    lines = _render(width, print_runs, [_run(i + 1, s) for i, s in enumerate(statuses)])
    assert max(len(text) for text in lines) <= width
    table = "\n".join(lines)
    for status in statuses:
        assert f" {status} " in table
    assert "12345" in table and "678" in table  # the changes stay whole


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_change_log_fits_the_width_and_keeps_outcomes(width: int) -> None:
    lines = _render(width, print_events, [_event(1, "applied"), _event(2, "rejected")])
    assert max(len(text) for text in lines) <= width
    text = "\n".join(lines)
    assert " applied " in text and " rejected " in text
    assert "member in compliance state" in text  # a failure's message is never dropped


def test_logs_follow_the_current_stderr_and_never_reach_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    swapped = io.StringIO()
    real, sys.stderr = sys.stderr, swapped
    try:
        logging.getLogger("syncd.test").info("progress.bars.swap.stderr")
    finally:
        sys.stderr = real
    assert "progress.bars.swap.stderr" in swapped.getvalue()
    assert "progress.bars.swap.stderr" not in capsys.readouterr().out


def test_audit_json_is_clean_json_with_debug_logs_and_pages_say_of_how_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade(url)
    db = make_engine(url)
    started = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with db.begin() as conn:
        conn.execute(
            insert(table_of(SyncRun)),
            [
                {
                    "workspace": "default",
                    "trigger": "manual",
                    "status": "success",
                    "started_at": started + timedelta(minutes=i),
                    "counts": {},
                }
                for i in range(5)
            ],
        )
    db.dispose()
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    monkeypatch.setenv("SYNCD_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("SYNCD_LOGGING__LEVEL", "debug")
    result = runner.invoke(app, ["audit", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []
    page = runner.invoke(app, ["runs", "--limit", "2", "--offset", "2"])
    assert page.exit_code == 0, page.stderr
    assert "showing 3-4 of 5 runs; next page: --offset 4" in page.stdout
    listed = json.loads(runner.invoke(app, ["runs", "--json", "--limit", "2"]).stdout)
    assert [r["id"] for r in listed] == [5, 4]


def test_exports_stream_every_matching_event_past_any_page_size(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_engine(db_url)
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    rows = [
        {
            "workspace": "default",
            "at": start + timedelta(seconds=i),
            "email": f"p{i}@example.com",
            "target": "hubspot_list:renewal-due",
            "segment": "renewal-due",
            "action": "add",
            "outcome": "applied" if i % 10 else "rejected",
            "message": None if i % 10 else "=refused",
        }
        for i in range(2_345)
    ]
    with db.begin() as conn:
        conn.execute(insert(table_of(AuditEvent)), rows)
    db.dispose()
    monkeypatch.setenv("SYNCD_DATABASE_URL", db_url)
    monkeypatch.setenv("SYNCD_MAPPINGS", str(MAPPINGS))
    as_json = runner.invoke(app, ["audit", "--json", "--segment", "renewal-due"])
    assert as_json.exit_code == 0, as_json.stderr
    events = json.loads(as_json.stdout)
    assert len(events) == len(rows)
    as_csv = runner.invoke(app, ["audit", "--csv", "--segment", "renewal-due"])
    parsed = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert len(parsed) - 1 == len(rows)  # the header, then every event
    failed = runner.invoke(app, ["audit", "--json", "--outcome", "rejected"])
    assert len(json.loads(failed.stdout)) == sum(1 for r in rows if r["outcome"] == "rejected")
    table = runner.invoke(app, ["audit", "--offset", "2300"])
    assert f"showing 2,301-{len(rows):,} of {len(rows):,} events" in table.stdout
