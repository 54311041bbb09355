"""What the console's browser tests share: Debian's Chromium, its flags, the marks that skip
a module when it is missing, fresh pages and screenshots.

The `browser` and `page` fixtures built on these live in tests/ui/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syncd.http import RetrySettings
from syncd.sandbox import Sandbox
from syncd.store import upgrade
from tests.support.sandboxes import start_sandbox

CHROMIUM = Path(os.environ.get("SYNCD_TEST_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: `pytestmark` of a browser-test module: marked `browser`, skipped without Chromium.
MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver",
    ),
]


def open_page(browser: object, width: int, height: int = 900) -> Iterator[object]:
    """A fresh page (own cookies) of the given viewport, closed after the test."""
    context = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def shot(page: object, name: str, *, full_page: bool = True) -> None:
    """Save a screenshot under `screenshots/` (git-ignored) for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)  # type: ignore[attr-defined]


@contextmanager
def sandbox_and_store(
    tmp_path_factory: pytest.TempPathFactory, name: str, contacts: int, seed: int
) -> Iterator[tuple[Sandbox, str, RetrySettings]]:
    """A sandbox of `contacts` people, a new migrated SQLite store for the syncs to fill, and
    the retry settings the browser tests sync with (no waits between attempts)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'syncd.db'}"
    upgrade(db_url)
    with start_sandbox(contacts, seed=seed) as sb:
        yield sb, db_url, RetrySettings.immediate(max_attempts=6, timeout_s=5.0)
