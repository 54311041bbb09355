"""Approve while another process holds the workspace's apply lease: the engine's bounded
wait ran out, so the console says who is writing and that nothing was written (409).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from syncd.store.lease import LeaseBusyError, LeaseInfo
from syncd.ui.api import lease_busy_detail
from tests.ui.conftest import ORIGIN, FakeRelease, csrf_token, post_approve
from tests.ui.seed import Seeded

HOLDER = "worker-2/pid-41/a1b2c3"
LEASE = "apply:default"
BUSY = (
    f"waiting for {HOLDER} (lease until 12:00:30 UTC); "
    "nothing was written; try again when it has finished"
)


def _busy(expires_at: datetime) -> LeaseBusyError:
    acquired = datetime(2025, 3, 14, 11, 59, 30, tzinfo=UTC)
    return LeaseBusyError(LEASE, LeaseInfo(LEASE, HOLDER, acquired, expires_at))


@pytest.fixture
def busy(release: FakeRelease) -> FakeRelease:
    """The approve path finding the lease taken until 12:00:30 UTC."""
    release.busy = _busy(datetime(2025, 3, 14, 12, 0, 30, tzinfo=UTC))
    return release


def test_approve_page_names_the_lease_holder_and_writes_nothing(
    client: TestClient, seeded: Seeded, busy: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    response = post_approve(client, seeded.held_run, token)
    assert response.status_code == 409
    assert busy.calls == [seeded.held_run]
    assert re.search(r'<p class="error" role="alert">[^<]*' + re.escape(BUSY), response.text)
    assert "Approve…" in response.text  # still held: try again later
    assert client.get(f"/api/runs/{seeded.held_run}").json()["run"]["status"] == "held"


def test_api_approve_answers_409_with_the_holder(
    client: TestClient, seeded: Seeded, busy: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    response = client.post(
        f"/api/runs/{seeded.held_run}/approve",
        headers={"origin": ORIGIN, "x-csrf-token": token},
    )
    assert response.status_code == 409
    assert response.json()["detail"].endswith(BUSY)
    assert busy.calls == [seeded.held_run]


def test_the_409_is_in_the_schema(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    conflict = schema["paths"]["/api/runs/{run_id}/approve"]["post"]["responses"]["409"]
    assert "apply lease" in conflict["description"]


@pytest.mark.parametrize(
    "expires_at",
    [
        datetime(2025, 3, 14, 12, 0, 30, tzinfo=UTC),
        datetime(2025, 3, 14, 13, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2025, 3, 14, 12, 0, 30, tzinfo=UTC).replace(tzinfo=None),  # naive: UTC
    ],
)
def test_lease_time_is_shown_in_utc(expires_at: datetime) -> None:
    assert lease_busy_detail(_busy(expires_at)).endswith(BUSY)


def test_an_unknown_holder_still_says_nothing_was_written() -> None:
    detail = lease_busy_detail(LeaseBusyError(LEASE, None))
    assert detail == (
        "another process holds this workspace's apply lease; "
        "nothing was written; try again when it has finished"
    )
