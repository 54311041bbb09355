"""Fixtures: a shared sandbox with relaxed limits, and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.sandbox import Limits, Sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A 300-contact sandbox shared by one test module (tests that write use their own)."""
    with Sandbox(contacts=300, seed=7, limits=Limits.relaxed()) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A small sandbox of its own, for tests that write."""
    with Sandbox(contacts=120, seed=11, limits=Limits.relaxed()) as sandbox:
        yield sandbox
