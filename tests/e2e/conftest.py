"""End-to-end fixtures: a sandbox over loopback and runtimes on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncd.http import RetrySettings
from syncd.runtime import Runtime, open_runtime
from syncd.sandbox import Sandbox
from tests.e2e.helpers import RuntimeFactory, make_settings
from tests.support.sandboxes import start_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox with limits raised out of the way (limits have their own tests)."""
    with start_sandbox(400, seed=11) as sb:
        yield sb


@pytest.fixture
def make_runtime(sandbox: Sandbox, db_url: str) -> Iterator[RuntimeFactory]:
    """Build runtimes against the sandbox (zero-wait retries); all are closed after the test."""
    opened: list[Runtime] = []

    def build(**safety: Any) -> Runtime:
        rt = open_runtime(
            make_settings(sandbox, db_url, **safety),
            retry=RetrySettings.immediate(max_attempts=6, timeout_s=2.0),
        )
        opened.append(rt)
        return rt

    yield build
    for rt in opened:
        rt.close()
