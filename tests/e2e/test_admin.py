"""Admin commands on real sync history: failures explained, CSV export, explain, undo."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from syncd.cli import app
from syncd.sandbox import FaultConfig, Sandbox
from syncd.store import RunStatus
from tests.e2e.helpers import RuntimeFactory, remote_lists
from tests.e2e.test_cli_sync import config, invoke, runner

__all__ = ["config"]


def test_failed_writes_are_explained_in_runs_and_audit(sandbox: Sandbox, config: Path) -> None:
    sandbox.set_faults(FaultConfig(mailchimp={"503": 1.0}, seed=1))
    result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code in (1, 4)
    # The run's one canonical log line names what failed and what to do about it.
    [line] = [json.loads(x) for x in result.stderr.splitlines() if '"run.finished"' in x]
    assert line["status"] in ("partial", "failed")
    assert line["failures"] or line["hint"]
    assert "mailchimp" in json.dumps(line)
    assert sandbox.mailchimp_key not in result.stderr
    code, text = invoke("runs", "--config", str(config), "--json")
    [run] = json.loads(text)
    assert run["status"] in ("partial", "failed")
    assert run["hint"], run
    assert "mailchimp" in json.dumps(run).lower()
    code, text = invoke("runs", "--config", str(config))
    assert run["hint"][:30] in text
    sandbox.set_faults(None)
    code, text = invoke("sync", "--config", str(config))
    assert code == 0, text


def test_audit_filters_csv_and_explain_history(sandbox: Sandbox, config: Path) -> None:
    assert invoke("sync", "--config", str(config))[0] == 0
    code, text = invoke("audit", "--config", str(config), "--json", "--limit", "5000")
    events = json.loads(text)
    added = next(e for e in events if e["action"] == "add" and e["target"].startswith("hub"))
    email, segment = added["email"], added["segment"]
    code, text = invoke("audit", "--config", str(config), "--contact", email.upper(), "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["email"] for r in rows} == {email}
    assert any(r["segment"] == segment and r["outcome"] == "applied" for r in rows)
    code, text = invoke("segments", "explain", email, "--config", str(config), "--json")
    assert code == 0, text
    explained = json.loads(text)
    history = explained["membership_history"]
    assert any(h["segment"] == segment and h["entered_run"] == 1 for h in history)


def test_undo_goes_through_guards_and_is_audited(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    rt = make_runtime()
    first = rt.syncer.sync(trigger="manual", full=True)
    assert first.status is RunStatus.SUCCESS
    assert any(remote_lists(sandbox).values())
    undone = rt.syncer.undo(first.run_id or 0)
    # Undoing a first sync empties every list: the mass-removal guard holds the big ones,
    # the small ones and the properties are reverted at once.
    assert undone.status is RunStatus.PARTIAL and undone.counts.held
    assert undone.trigger == "undo"
    released = rt.syncer.release(undone.run_id or 0, by="tester")
    assert released.status is RunStatus.SUCCESS, released.error
    assert not any(remote_lists(sandbox).values())
    with sandbox.state_lock():
        assert not any(c.props.get("syncd_segments") for c in sandbox.hubspot.contacts.values())
