"""How a run ends when something fails: one log line per failure, stacks only for bugs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from syncd.engine.syncer import Syncer
from syncd.errors import ConfigError, TransientError
from syncd.failures import Reason, advice, class_of
from syncd.segments import load_mappings
from syncd.store import RunStatus, SyncRun
from syncd.store.types import table_of, utcnow

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"


class FailingPuller:
    """A connector whose pull fails with `error` on the first page."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[object]:
        raise self.error
        yield  # pragma: no cover - makes this a generator


def _run(db: Engine, error: Exception) -> tuple[RunStatus, list[dict[str, object]]]:
    sync = Syncer(
        db, "default", load_mappings(MAPPINGS), pullers={"hubspot": FailingPuller(error)},
        writers={}, clock=utcnow,
    )  # fmt: skip
    with capture_logs() as logs:
        result = sync.sync(trigger="manual")
    return result.status, [e for e in logs if e["event"] == "run.failed"]


def test_an_exhausted_transient_failure_is_one_line_with_advice(db: Engine) -> None:
    status, failed = _run(db, TransientError("hubspot GET /crm/v3/objects: HTTP 503: down"))
    assert status is RunStatus.FAILED
    assert len(failed) == 1
    line = failed[0]
    assert "exc_info" not in line  # no stack for a vendor that stayed unavailable
    assert line["error_class"] == "transient" and "503" in str(line["error"])
    assert line["hint"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TransientError("hubspot GET /x: HTTP 503: down", reason=Reason.VENDOR_UNAVAILABLE),
         Reason.VENDOR_UNAVAILABLE),
        (ConfigError("mappings/segments.yaml: segments[2].when: unknown field"),
         Reason.CONFIG_INVALID),
        (RuntimeError("bug"), Reason.INTERNAL),
    ],
)  # fmt: skip
def test_the_run_row_and_its_log_line_carry_the_failure_s_reason(
    db: Engine, error: Exception, reason: Reason
) -> None:
    _, failed = _run(db, error)
    assert failed[0]["reason"] is reason
    assert failed[0].get("hint") in (None, advice(reason))  # bugs log their stack instead
    r = table_of(SyncRun).c
    with db.connect() as conn:
        stored = conn.execute(select(r.reason_code, r.error_class)).one()
    assert stored == (reason, class_of(reason))


@pytest.mark.parametrize("error", [RuntimeError("bug"), KeyError("missing")])
def test_an_internal_error_keeps_its_stack(db: Engine, error: Exception) -> None:
    status, failed = _run(db, error)
    assert status is RunStatus.FAILED
    assert len(failed) == 1 and failed[0].get("exc_info") is True
