"""The console in headless Chromium (Debian's package, driven by Playwright) against a store
filled by real sandbox syncs: a full sync, then a reconcile held by the removal guard.

Loads each page, clicks from a run to a change to a contact, approves the held run, and saves
a screenshot of each step under `screenshots/` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from syncd.runtime import Runtime, open_runtime
from syncd.store.models import RunStatus
from syncd.ui import UiServer, create_app, serve
from tests.e2e.helpers import make_settings
from tests.ui.browser import MARKS, sandbox_and_store, shot

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api")


@dataclass
class Console:
    """A console served over loopback on a synced store."""

    url: str
    held_run: int
    first_run: int


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Two real syncs against the sandbox (the second held), and the console serving them."""
    opened: list[Runtime] = []
    server: UiServer | None = None
    with sandbox_and_store(tmp_path_factory, "browser", 300, seed=11) as (sb, db_url, retry):
        try:
            rt = open_runtime(make_settings(sb, db_url), retry=retry)
            opened.append(rt)
            first = rt.syncer.sync(trigger="manual", full=True)
            assert first.status is RunStatus.SUCCESS, first.error
            with sb.state_lock():  # a bad CRM edit: every lifecycle stage wiped
                for contact in sb.hubspot.contacts.values():
                    contact.props.pop("lifecyclestage", None)
            strict = open_runtime(make_settings(sb, db_url, max_removals=5), retry=retry)
            opened.append(strict)
            held = strict.syncer.sync(trigger="reconcile", full=True)
            assert held.status is RunStatus.PARTIAL and held.counts.held, held.status
            assert held.run_id is not None
            app = create_app(
                strict.db, "default", strict.rules, token=None,
                approve=strict.syncer.release,
            )  # fmt: skip
            server = serve(app, "127.0.0.1", 0, None, background=True)
            yield Console(server.url, held.run_id, first.run_id or 0)
        finally:
            if server is not None:
                server.stop()
            for runtime in opened:
                runtime.close()


def test_each_page_loads(console: Console, page: object) -> None:
    expect = playwright_sync.expect
    p = page
    p.goto(f"{console.url}/runs")  # type: ignore[attr-defined]
    expect(p.locator("h1")).to_have_text("Sync runs")  # type: ignore[attr-defined]
    expect(p.locator(".badge-partial")).to_have_count(1)  # type: ignore[attr-defined]
    shot(p, "01-runs")
    p.goto(f"{console.url}/segments")  # type: ignore[attr-defined]
    sizes = 'svg.chart[aria-labelledby="chart-title"]'  # the history chart is a second one
    expect(p.locator(sizes)).to_be_visible()  # type: ignore[attr-defined]
    assert p.locator(f"{sizes} circle").count() > 0  # type: ignore[attr-defined]
    expect(p.locator('svg.chart[aria-labelledby="trend-title"]')).to_be_visible()  # type: ignore[attr-defined]
    shot(p, "02-segments")
    p.goto(f"{console.url}/changes")  # type: ignore[attr-defined]
    expect(p.locator("table.events tbody tr").first).to_be_visible()  # type: ignore[attr-defined]
    shot(p, "03-changes")


def test_click_from_a_run_to_a_change_to_a_contact(console: Console, page: object) -> None:
    expect = playwright_sync.expect
    p = page
    p.goto(f"{console.url}/runs")  # type: ignore[attr-defined]
    p.click(f'a[href="/runs/{console.first_run}"]')  # type: ignore[attr-defined]
    expect(p.locator("h1")).to_contain_text(f"Run #{console.first_run}")  # type: ignore[attr-defined]
    shot(p, "04-run")
    p.locator("section h2 a", has_text="search all").click()  # type: ignore[attr-defined]
    expect(p).to_have_url(re.compile(r"/changes\?run_id="))
    link = p.locator("table.events tbody tr td a[href^='/contacts/']").first  # type: ignore[attr-defined]
    email = link.inner_text()
    link.click()
    expect(p.locator("h1")).to_have_text(email)  # type: ignore[attr-defined]
    expect(p.locator("details.verdict.in").first).to_be_visible()  # type: ignore[attr-defined]
    shot(p, "05-contact")


def test_approve_a_held_run(console: Console, page: object) -> None:
    expect = playwright_sync.expect
    p = page
    p.goto(f"{console.url}/runs?status=partial")  # type: ignore[attr-defined]
    p.click(f'a[href="/runs/{console.held_run}"]')  # type: ignore[attr-defined]
    expect(p.locator("section.held h2")).to_have_text("Held plan")  # type: ignore[attr-defined]
    shot(p, "06-held-run")
    p.get_by_role("link", name=re.compile("Approve")).click()  # type: ignore[attr-defined]
    expect(p.locator("h1")).to_contain_text("Approve and apply the held plan")  # type: ignore[attr-defined]
    p.get_by_role("button", name=re.compile("Approve and apply")).click()  # type: ignore[attr-defined]
    expect(p.locator(".notice")).to_contain_text("Run released")  # type: ignore[attr-defined]
    expect(p.locator("h1 .badge")).to_have_text("success")  # type: ignore[attr-defined]
    shot(p, "07-approved", full_page=False)
