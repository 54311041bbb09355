"""Console fixtures: a seeded store on each backend, the app with a recording approve path,
clients with and without a token, and headless Chromium for the browser tests.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from syncd.errors import ConfigError
from syncd.segments import RuleSet, load_mappings
from syncd.store.lease import LeaseBusyError
from syncd.store.models import RunStatus, SyncRun
from syncd.store.types import table_of
from syncd.ui import create_app
from tests.ui.browser import ARGS, CHROMIUM, open_page
from tests.ui.seed import NOW, WS, Seeded, seed

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice that httpx has a successor
    from fastapi.testclient import TestClient

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
TOKEN = "s3cret-console-token"
ORIGIN = "http://testserver"


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The shipped mappings."""
    return load_mappings(MAPPINGS)


@dataclass
class Released:
    """What the fake release returns (the fields of `RunResult` the console reads)."""

    status: RunStatus
    error: str | None = None
    exit_code: int = 0


@dataclass
class FakeRelease:
    """Stands in for `Syncer.release`: refuses what is not held, marks the run done;
    with `busy` set, raises it as the engine does when another process holds the lease.
    """

    db: Engine
    calls: list[int] = field(default_factory=list)
    busy: LeaseBusyError | None = None

    def __call__(self, run_id: int) -> Released:
        self.calls.append(run_id)
        if self.busy is not None:
            raise self.busy
        runs = table_of(SyncRun)
        with self.db.begin() as conn:
            status = conn.execute(
                runs.select().with_only_columns(runs.c.status).where(runs.c.id == run_id)
            ).scalar_one()
            if status != RunStatus.HELD:
                raise ConfigError(f"run {run_id} is {status}, not held; nothing to release")
            conn.execute(runs.update().where(runs.c.id == run_id).values(status=RunStatus.SUCCESS))
        return Released(RunStatus.SUCCESS)


@pytest.fixture
def seeded(db: Engine) -> Seeded:
    """The store of each backend, filled by `tests.ui.seed`."""
    return seed(db)


@pytest.fixture
def release(db: Engine) -> FakeRelease:
    """The recording approve path."""
    return FakeRelease(db)


def make_app(
    db: Engine, rules: RuleSet, release: FakeRelease, token: str | None, **options: Any
) -> FastAPI:
    """The console on a seeded store, with the test clock, answering to TestClient's host
    `testserver` (and, with `allowed_hosts=...` among `options`, to those names only).
    """
    options.setdefault("allowed_hosts", ["testserver"])
    return create_app(db, WS, rules, token=token, approve=release, clock=lambda: NOW, **options)


@pytest.fixture
def client(db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded) -> TestClient:
    """A browser-like client of a console without a token (loopback mode)."""
    return TestClient(make_app(db, rules, release, None), follow_redirects=False)


@pytest.fixture
def locked(db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded) -> TestClient:
    """A client of a console that requires the token `TOKEN`."""
    return TestClient(make_app(db, rules, release, TOKEN), follow_redirects=False)


def csrf_token(client: TestClient, run_id: int) -> str:
    """The client's session CSRF token, as the run's confirm page puts it in its form."""
    found = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(f"/runs/{run_id}/confirm").text
    )
    assert found is not None
    return found.group(1)


def post_approve(client: TestClient, run_id: int, token: str) -> httpx.Response:
    """Post the confirm page's Approve form for `run_id` as a browser on the console would."""
    response: httpx.Response = client.post(
        f"/runs/{run_id}/approve", data={"csrf_token": token}, headers={"origin": ORIGIN}
    )
    return response


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; never a downloaded browser build. One per module."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page (own cookies) at a desktop size."""
    yield from open_page(browser, 1360)
