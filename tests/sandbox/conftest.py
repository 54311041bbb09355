"""Fixtures: a shared sandbox with relaxed limits, and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.sandbox import Sandbox
from tests.support.sandboxes import start_sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A 300-contact sandbox shared by one test module (tests that write use their own)."""
    with start_sandbox(300, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A small sandbox of its own, for tests that write."""
    with start_sandbox(120, seed=11) as sandbox:
        yield sandbox
