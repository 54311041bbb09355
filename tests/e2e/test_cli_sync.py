"""The command line against the sandbox: exit codes, dry runs, plans, held runs, history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncd.cli import app
from syncd.sandbox import Sandbox
from tests.e2e.helpers import MAPPINGS

runner = CliRunner()


@pytest.fixture
def config(sandbox: Sandbox, db_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(
        f"database_url: {db_url}\n"
        f"mappings: {MAPPINGS}\n"
        f"hubspot: {{access_token: {sandbox.hubspot_token}, base_url: '{sandbox.hubspot_url}'}}\n"
        f"mailchimp: {{api_key: {sandbox.mailchimp_key}, audience_id: {sandbox.audience_id},"
        f" base_url: '{sandbox.mailchimp_url}'}}\n"
        "safety: {max_removals: 5}\n"
        "retry: {initial_wait_s: 0, max_wait_s: 0, jitter_s: 0, max_retry_after_s: 0}\n",
        encoding="utf-8",
    )
    return path


def writes(sb: Sandbox) -> int:
    stats = sb.stats()
    return int(stats["hubspot"]["writes"] + stats["mailchimp"]["writes"])


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and standard output (logs go to standard error)."""
    result = runner.invoke(app, list(args))
    if result.exit_code not in (0, 3) and not result.stdout:
        return result.exit_code, result.stderr
    return result.exit_code, result.stdout


def test_dry_run_then_sync_then_runs(sandbox: Sandbox, config: Path) -> None:
    code, text = invoke("sync", "--config", str(config), "--dry-run", "--json")
    assert code == 0, text
    plan = json.loads(text)
    assert plan["targets"]["hubspot_property:syncd"]["set"] > 0
    assert plan["samples"]["hubspot_property:syncd"][0]["reason"]
    assert writes(sandbox) == 0
    code, text = invoke("sync", "--config", str(config))
    assert code == 0, text
    assert writes(sandbox) > 0
    code, text = invoke("runs", "--config", str(config), "--json")
    assert code == 0, text
    runs = json.loads(text)
    assert [r["status"] for r in runs] == ["success"]
    assert {"id", "status", "trigger", "started_at", "finished_at", "counts"} <= set(runs[0])
    assert runs[0]["counts"]["hubspot_property:syncd"]["set"] > 0


def test_plan_previews_a_rule_change(sandbox: Sandbox, config: Path, tmp_path: Path) -> None:
    assert invoke("sync", "--config", str(config))[0] == 0
    code, text = invoke("plan", "--config", str(config), "--json")
    assert code == 0, text
    counts = json.loads(text)["targets"].values()
    assert all(row["add"] == row["remove"] == row["set"] == 0 for row in counts)
    preview = tmp_path / "preview"
    shutil.copytree(MAPPINGS, preview)
    rules = (preview / "segments.yaml").read_text(encoding="utf-8")
    # Turn on the HubSpot list for a segment that had none.
    rules = rules.replace(
        "targets: {hubspot_list: false, mailchimp_tag: true}",
        "targets: {hubspot_list: true, mailchimp_tag: true}",
        1,
    )
    (preview / "segments.yaml").write_text(rules, encoding="utf-8")
    before = writes(sandbox)
    code, text = invoke("plan", "--config", str(config), "--mappings", str(preview), "--json")
    assert code == 0, text
    targets = json.loads(text)["targets"]
    assert any(t.startswith("hubspot_list:") and v["add"] > 0 for t, v in targets.items())
    assert writes(sandbox) == before


def test_held_targets_are_reviewed_rejected_and_released(sandbox: Sandbox, config: Path) -> None:
    assert invoke("sync", "--config", str(config))[0] == 0
    with sandbox.state_lock():
        for contact in sandbox.hubspot.contacts.values():
            contact.props.pop("lifecyclestage", None)
    code, text = invoke("sync", "--config", str(config), "--full")
    assert code == 4, text  # the other targets were applied
    assert "syncd plan --run" in text and "syncd reject --run" in text
    run = json.loads(invoke("runs", "--config", str(config), "--json")[1])[0]
    held = run["held_targets"]
    assert len(held) >= 2, run
    code, text = invoke("plan", "--run", str(run["id"]), "--json", "--config", str(config))
    assert code == 0, text
    holds = {h["target"]: h for h in json.loads(text)["holds"]}
    assert sorted(holds) == held
    for hold in holds.values():
        assert hold["status"] == "waiting" and hold["reason"]
        assert len(hold["changes"]) == hold["total"] == sum(hold["counts"].values()) > 5
        assert all(c["reason"] and c["action"] == "remove" for c in hold["changes"])
    code, text = invoke("plan", "--run", str(run["id"]), "--limit", "2", "--config", str(config))
    assert code == 0 and "showing 1-2 of" in text, text

    before = writes(sandbox)
    # Off a terminal nobody can confirm: refused without --yes, nothing written.
    code, text = invoke("apply", "--run", str(run["id"]), "--config", str(config))
    assert code == 2 and "--yes" in text, text
    first, rest = held[0], held[1:]
    code, text = invoke(
        "reject", "--run", str(run["id"]), "--target", first, "--yes", "--config", str(config)
    )
    assert code == 0 and f"rejected {first}" in text, text
    assert writes(sandbox) == before
    code, text = invoke("apply", "--run", str(run["id"]), "--yes", "--config", str(config))
    assert code == 0, text
    assert writes(sandbox) > before
    after = json.loads(invoke("runs", "--config", str(config), "--json")[1])[0]
    decisions = {d["target"]: d["decision"] for d in after["decisions"]}
    assert decisions == {first: "rejected", **dict.fromkeys(rest, "released")}
    assert after["held_targets"] == []
    code, text = invoke("apply", "--run", str(run["id"]), "--yes", "--config", str(config))
    assert code == 2 and "waits for a decision" in text, text


def test_bad_token_exits_2_with_an_actionable_message(sandbox: Sandbox, config: Path) -> None:
    text = config.read_text(encoding="utf-8").replace(sandbox.hubspot_token, "wrong-token-123")
    config.write_text(text, encoding="utf-8")
    code, out = invoke("sync", "--config", str(config), "--json")
    assert code == 2, out
    result = json.loads(out)
    # Mailchimp's side still ran: the run is partial, and exit 2 says a person must act.
    assert result["status"] == "partial"
    assert result["error_class"] == "config"
    assert result["error"].startswith("hubspot:") and "401" in result["error"]
    assert result["counts"]["stale_sources"] == ["hubspot"]
    assert "wrong-token-123" not in out


def test_check_probes_both_apis(sandbox: Sandbox, config: Path) -> None:
    assert invoke("db", "upgrade", "--config", str(config))[0] == 0
    code, text = invoke("check", "--config", str(config))
    assert code == 0, text
    assert text.count("credentials accepted") == 2
    bad = config.read_text(encoding="utf-8").replace(sandbox.mailchimp_key, "nope-key-us1")
    config.write_text(bad, encoding="utf-8")
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "mailchimp" in result.stderr
    assert "nope-key" not in result.stdout + result.stderr


def _snapshot(db_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: what "changed nothing" is checked against."""
    from sqlalchemy import MetaData, create_engine, select

    from syncd.store.db import normalise_url

    engine = create_engine(normalise_url(db_url))
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted(tuple(map(repr, row)) for row in conn.execute(select(table)))
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def test_a_dry_run_changes_nothing_anywhere(sandbox: Sandbox, config: Path, db_url: str) -> None:
    assert invoke("sync", "--config", str(config))[0] == 0
    with sandbox.state_lock():
        contacts = list(sandbox.hubspot.contacts.values())
        for contact in contacts[:40]:
            contact.props["lifecyclestage"] = "customer"
        contacts[41].props["email"] = ""  # a record the pull rejects (audit row, normally)
    before, writes_before = _snapshot(db_url), writes(sandbox)
    code, text = invoke("sync", "--config", str(config), "--dry-run", "--full", "--json")
    assert code in (0, 3), text
    plan = json.loads(text)
    changed = {t: r for t, r in plan["targets"].items() if r["add"] or r["remove"] or r["set"]}
    assert changed, "the dry run saw none of the edits"
    assert all(plan["samples"][t][0]["contact"] for t in changed)
    assert _snapshot(db_url) == before
    assert writes(sandbox) == writes_before


def test_a_missing_audience_during_sync_is_a_configuration_error(
    sandbox: Sandbox, config: Path
) -> None:
    assert invoke("db", "upgrade", "--config", str(config))[0] == 0
    wrong = config.read_text(encoding="utf-8").replace(sandbox.audience_id, "nosuchlist")
    config.write_text(wrong, encoding="utf-8")
    result = runner.invoke(app, ["sync", "--config", str(config), "--json"])
    assert result.exit_code == 2, result.stdout + result.stderr
    run = json.loads(result.stdout)
    assert run["error_class"] == "config"
    assert "audience" in run["error"]
    checked = runner.invoke(app, ["check", "--config", str(config)])
    assert checked.exit_code == 2
    assert "audience" in checked.stderr
