"""Which holds `--run ID [--target T]` names, and the refusals when it names the wrong ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from syncd.engine.decisions import holds_to_decide
from syncd.errors import ConfigError
from syncd.store.models import Hold, HoldStatus, RunStatus, SyncRun
from syncd.store.types import table_of

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _seed(db: Engine) -> None:
    """Runs 1 and 2 each hold a target; run 3 re-planned both holds."""
    runs, holds = table_of(SyncRun), table_of(Hold)
    with db.begin() as conn:
        for n in (1, 2, 3):
            conn.execute(
                runs.insert().values(
                    id=n, workspace="default", trigger="schedule", status=RunStatus.PARTIAL,
                    started_at=NOW, counts={},
                )
            )  # fmt: skip
        for n, target in ((1, "hubspot_list:a"), (2, "mailchimp_tag:b")):
            conn.execute(
                holds.insert().values(
                    workspace="default", target=target, run_id=n, planned_by_run=3,
                    reason="too many removals", status=HoldStatus.WAITING,
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip


def test_a_hold_is_named_by_its_run_or_the_run_that_replanned_it(db: Engine) -> None:
    _seed(db)
    with db.connect() as conn:
        assert [h.target for h in holds_to_decide(conn, "default", 1, None)] == ["hubspot_list:a"]
        only = holds_to_decide(conn, "default", 3, "mailchimp_tag:b")
        assert [(h.target, h.run_id) for h in only] == [("mailchimp_tag:b", 2)]


def test_holds_of_several_runs_are_decided_run_by_run(db: Engine) -> None:
    _seed(db)
    with db.connect() as conn, pytest.raises(ConfigError) as refused:
        holds_to_decide(conn, "default", 3, None)
    assert "--run 1, --run 2" in str(refused.value)


def test_nothing_waiting_names_what_does(db: Engine) -> None:
    _seed(db)
    with db.connect() as conn:
        with pytest.raises(ConfigError) as unknown:
            holds_to_decide(conn, "default", 99, None)
        assert "does not exist" in str(unknown.value)
        with pytest.raises(ConfigError) as none:
            holds_to_decide(conn, "default", 1, "mailchimp_tag:b")
    assert "hubspot_list:a (run 1)" in str(none.value)
