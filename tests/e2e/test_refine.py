"""Test and refine end to end: snapshots per run, success over simulated time, holdouts.

The sandbox over loopback, the real SDKs, SQLite and PostgreSQL; the run's clock is injected so
that days pass between runs while contacts convert in HubSpot through its API.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from syncd.cli import app
from syncd.engine.segment_report import load_report
from syncd.http import RetrySettings
from syncd.runtime import Runtime, open_runtime
from syncd.sandbox import Sandbox
from syncd.segments import load_mappings
from syncd.store import Contact, RunStatus, make_engine
from syncd.store.models import AuditEvent, SegmentSnapshot, SegmentStint
from syncd.store.types import table_of, utcnow
from tests.e2e.helpers import MAPPINGS, ledger_members, make_settings, remote_lists, remote_tags


def refine_mappings(tmp_path: Path) -> Path:
    """The default mappings with a holdout, KPI targets and a success condition on trials."""
    out = tmp_path / "mappings"
    out.mkdir()
    (out / "fields.yaml").write_text((MAPPINGS / "fields.yaml").read_text())
    doc: dict[str, Any] = yaml.safe_load((MAPPINGS / "segments.yaml").read_text())
    for seg in doc["segments"]:
        if seg["key"] == "trial-to-paid":
            seg["holdout"] = 30
            seg["kpis"] = {"open_rate": {"min": 0.99}}
            converted = {"field": "lifecycle_stage", "eq": "customer"}
            seg["success"] = {"when": converted, "within": "30d"}
    (out / "segments.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def runtime(sandbox: Sandbox, db_url: str, tmp_path: Path) -> Runtime:
    mappings = refine_mappings(tmp_path)
    return open_runtime(
        make_settings(sandbox, db_url),
        rules=load_mappings(mappings),
        retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0),
    )


def clocked_runtime(
    sandbox: Sandbox, db_url: str, tmp_path: Path
) -> tuple[Runtime, list[datetime]]:
    """`runtime` on a clock the test moves: the run reads the time from the list's one item."""
    rt = runtime(sandbox, db_url, tmp_path)
    clock = [utcnow()]
    rt.syncer.clock = lambda: clock[0]
    return rt, clock


def convert(sandbox: Sandbox, hubspot_id: str) -> None:
    """A person marks a contact as a customer in HubSpot."""
    resp = requests.patch(
        f"{sandbox.hubspot_url}/crm/v3/objects/contacts/{hubspot_id}",
        json={"properties": {"lifecyclestage": "customer"}},
        headers={"Authorization": f"Bearer {sandbox.hubspot_token}", "X-Sandbox-Actor": "person"},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text


def test_history_success_and_holdout_over_simulated_days(
    sandbox: Sandbox, db_url: str, tmp_path: Path
) -> None:
    rt, clock = clocked_runtime(sandbox, db_url, tmp_path)
    start = clock[0]
    try:
        first = rt.syncer.sync(trigger="manual", full=True)
        assert first.status is RunStatus.SUCCESS, first.error
        snaps, stints = table_of(SegmentSnapshot).c, table_of(SegmentStint).c
        c = table_of(Contact).c
        with rt.db.connect() as conn:
            rows = conn.execute(
                select(stints.contact_id, stints.held_out, c.hubspot_id, c.mailchimp_id)
                .join_from(table_of(SegmentStint), table_of(Contact), stints.contact_id == c.id)
                .where(stints.segment == "trial-to-paid")
            ).all()
            n_snaps = conn.execute(select(snaps.id).where(snaps.run_id == first.run_id)).all()
        assert len(n_snaps) == len(rt.rules.segments)  # one snapshot per segment per run
        with rt.db.connect() as conn:
            news = conn.execute(
                select(snaps.size, snaps.entered, snaps.exited).where(
                    snaps.run_id == first.run_id, snaps.segment == "newsletter"
                )
            ).one()
            untracked = conn.execute(select(stints.id).where(stints.segment == "newsletter")).all()
        assert news.size > 0 and news.entered == news.size and news.exited == 0
        assert untracked == []  # no per-member rows where nothing is measured
        held = [r for r in rows if r.held_out]
        kept = [r for r in rows if not r.held_out]
        assert held and kept
        # Held-out members are in no target: not in the list, not tagged, not in the ledger.
        listed = remote_lists(sandbox)["syncd: trial-to-paid"]
        tagged = remote_tags(sandbox)["syncd:trial-to-paid"]
        assert not {r.hubspot_id for r in held} & listed
        assert not {r.mailchimp_id for r in held} & tagged
        assert not {r.hubspot_id for r in held} & ledger_members(rt, "hubspot_list:trial-to-paid")
        assert {r.hubspot_id for r in kept if r.hubspot_id} <= listed
        # ...and the change log says so, once per held-out member.
        a = table_of(AuditEvent).c
        with rt.db.connect() as conn:
            logged = conn.execute(
                select(a.contact_id, a.reason).where(
                    a.segment == "trial-to-paid", a.action == "skip", a.outcome == "skipped"
                )
            ).all()
        assert {r.contact_id for r in logged} == {r.contact_id for r in held}
        assert all("held out for measurement" in r.reason for r in logged)

        # Three days later, some members of each group convert.
        converts = [r for r in kept[:3] + held[:1] if r.hubspot_id]
        for r in converts:
            convert(sandbox, r.hubspot_id)
        clock[0] = start + timedelta(days=3)
        second = rt.syncer.sync(trigger="schedule")
        assert second.status in (RunStatus.SUCCESS, RunStatus.PARTIAL), second.error
        with rt.db.connect() as conn:
            done = conn.execute(
                select(
                    stints.contact_id, stints.entered_at, stints.success_at, stints.exited_at
                ).where(stints.segment == "trial-to-paid", stints.success_at.is_not(None))
            ).all()
        assert {r.contact_id for r in done} == {r.contact_id for r in converts}
        for r in done:  # they left the trial segment on the day they converted
            assert r.success_at - r.entered_at == timedelta(days=3)
            assert r.exited_at == r.success_at

        report = load_report(rt.db, rt.settings.workspace, rt.rules, clock[0])
        trial = next(s for s in report.segments if s.key == "trial-to-paid")
        assert [p["date"] for p in trial.points] == [
            start.date().isoformat(),
            clock[0].date().isoformat(),
        ]
        assert trial.points[1]["exited"] >= len(converts)
        news_now = next(s for s in report.segments if s.key == "newsletter").points[-1]
        assert news_now["entered"] < news.size  # counted against the last run, not from zero
        success = trial.success
        assert success is not None
        assert success["succeeded"] == len(converts)
        assert success["median_days_to_success"] == 3.0
        assert success["still_open"] == len(rows) - len(converts)
        lift = trial.lift["success_rate"]
        assert lift["n_members"] == len(kept) and lift["n_holdout"] == len(held)
        assert lift["members"] == 3 / len(kept)
        assert lift["verdict"]
        assert "open_rate" in trial.kpi_targets
    finally:
        rt.close()


def test_kpi_below_target_warns_after_three_runs(
    sandbox: Sandbox, db_url: str, tmp_path: Path
) -> None:
    rt, clock = clocked_runtime(sandbox, db_url, tmp_path)
    start = clock[0]
    try:
        for day in range(3):
            clock[0] = start + timedelta(days=day)
            rt.syncer.sync(trigger="manual", full=day == 0)
            report = load_report(rt.db, rt.settings.workspace, rt.rules, clock[0])
            trial = next(s for s in report.segments if s.key == "trial-to-paid")
            warned = [w for w in trial.warnings if "open_rate missed its target" in w]
            assert bool(warned) is (day == 2), (day, trial.warnings)
        assert "its rule has not changed meanwhile (never refined)" in warned[0]
    finally:
        rt.close()


def test_init_sync_convert_sync_report_from_the_command_line(
    sandbox: Sandbox, db_url: str, tmp_path: Path
) -> None:
    """The issue's acceptance flow: init, sync, contacts convert, sync, report --json."""
    runner = CliRunner()
    made = runner.invoke(app, ["init", "--dir", str(tmp_path / "m")])
    assert made.exit_code == 0, made.stderr
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"database_url: {db_url}\nmappings: {tmp_path / 'm'}\n"
        f"hubspot: {{access_token: {sandbox.hubspot_token}, base_url: '{sandbox.hubspot_url}'}}\n"
        f"mailchimp: {{api_key: {sandbox.mailchimp_key}, audience_id: {sandbox.audience_id},"
        f" base_url: '{sandbox.mailchimp_url}'}}\n"
        "retry: {initial_wait_s: 0, max_wait_s: 0, jitter_s: 0, max_retry_after_s: 0}\n",
        encoding="utf-8",
    )
    first = runner.invoke(app, ["sync", "--config", str(config), "--full"])
    assert first.exit_code in (0, 4), first.stderr
    stints, c = table_of(SegmentStint).c, table_of(Contact).c
    db = make_engine(db_url)
    try:
        with db.connect() as conn:
            trials = conn.execute(
                select(c.hubspot_id, stints.held_out)
                .join_from(table_of(SegmentStint), table_of(Contact), stints.contact_id == c.id)
                .where(stints.segment == "trial-to-paid", c.hubspot_id.is_not(None))
            ).all()
    finally:
        db.dispose()
    for r in trials[:4]:
        convert(sandbox, r.hubspot_id)
    second = runner.invoke(app, ["sync", "--config", str(config)])
    assert second.exit_code in (0, 4), second.stderr
    shown = runner.invoke(app, ["segments", "report", "--config", str(config), "--json"])
    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    trial = next(s for s in report["segments"] if s["key"] == "trial-to-paid")
    assert trial["points"] and trial["points"][-1]["size"] > 0
    assert trial["persona"].startswith("New Trial Nancy")
    assert trial["success"]["succeeded"] == 4
    assert trial["success"]["median_days_to_success"] is not None
    lift = trial["lift"]["success_rate"]
    assert {"lift", "ci_low", "ci_high", "p_value", "verdict"} <= set(lift)
    assert lift["verdict"]
    # Held-out members of every segment with a holdout are in no target.
    held = {r.hubspot_id for r in trials if r.held_out}
    listed = remote_lists(sandbox).get("syncd: trial-to-paid", set())
    assert held and not held & listed
    text = runner.invoke(app, ["segments", "report", "--config", str(config)])
    assert "lift on success_rate:" in text.stdout
