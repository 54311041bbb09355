"""Anti-flapping end to end: a contact toggling in and out of a segment, with `min_dwell`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from syncd.cli import app
from syncd.sandbox import Sandbox
from syncd.store import AuditEvent
from syncd.store.types import table_of, utcnow
from tests.e2e.helpers import MAPPINGS, RuntimeFactory, remote_lists

LIST = "syncd: evaluating-prospects"
TARGET = "hubspot_list:evaluating-prospects"


def _explain(sandbox: Sandbox, db_url: str, tmp: Path, email: str) -> dict[str, Any]:
    config = tmp / "syncd.yaml"
    config.write_text(
        f"database_url: {db_url}\nmappings: {MAPPINGS}\nsafety: {{min_dwell: 2h}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["segments", "explain", email, "--json", "-c", str(config)])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_toggling_contact_makes_no_add_remove_pairs_within_the_dwell(
    sandbox: Sandbox, make_runtime: RuntimeFactory, db_url: str, tmp_path: Path
) -> None:
    rt = make_runtime()
    now = [utcnow()]
    rt.syncer.clock = lambda: now[0]
    rt.syncer.min_dwell = timedelta(hours=2)
    rt.syncer.sync(trigger="manual", full=True)
    member = sorted(remote_lists(sandbox)[LIST])[0]
    with sandbox.state_lock():
        contact = next(c for k, c in sandbox.hubspot.contacts.items() if str(k) == member)
        stage = contact.props["lifecyclestage"]
        email = contact.props["email"]

    deferred = []
    for step in range(4):  # out, in, out, in: every 30 minutes
        now[0] += timedelta(minutes=30)
        with sandbox.state_lock():
            if step % 2 == 0:
                contact.props.pop("lifecyclestage", None)
            else:
                contact.props["lifecyclestage"] = stage
        run = rt.syncer.sync(trigger="reconcile", full=True)
        deferred.append(run.counts.deferred.get(TARGET, {}).get("dwell", 0))
        assert member in remote_lists(sandbox)[LIST], f"removed within the dwell (step {step})"
        if step == 0:  # explain says what waits and until when
            waiting = _explain(sandbox, db_url, tmp_path, email)["deferred"]
            assert {"target": TARGET, "change": "remove"}.items() <= waiting[0].items()
            assert waiting[0]["until"] > utcnow().isoformat()
    assert deferred[0] >= 1  # the removal waited

    a = table_of(AuditEvent).c
    with rt.db.connect() as conn:
        removals = conn.execute(
            select(a.run_id).where(a.target == TARGET, a.hubspot_id == member, a.action == "remove")
        ).all()
    assert removals == []

    # Out for good: once the dwell has passed, the removal happens.
    with sandbox.state_lock():
        contact.props.pop("lifecyclestage", None)
    now[0] += timedelta(hours=2, minutes=1)
    rt.syncer.sync(trigger="reconcile", full=True)
    assert member not in remote_lists(sandbox)[LIST]
