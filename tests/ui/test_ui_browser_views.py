"""The console's listings in headless Chromium (Debian's package, driven by Playwright) on a
store filled by real sandbox syncs: a full sync, an incremental one that changes nothing, and an
undo of the first.

Covers the run filters and charts, the undo links, "nothing changed", the change-log filters
with their count and CSV, the contacts search with its HubSpot link, the login page without
navigation, and every page at 420 px wide without sideways scrolling. Screenshots go to
`screenshots/` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from syncd.runtime import Runtime, open_runtime
from syncd.store.models import RunStatus
from syncd.ui import UiServer, create_app, serve
from syncd.ui.links import ExternalLinks
from tests.e2e.helpers import make_settings
from tests.ui.browser import MARKS, open_page, sandbox_and_store, shot

pytestmark = MARKS
playwright_sync = pytest.importorskip("playwright.sync_api")

PORTAL = 4242
TOKEN = "narrow-console-token"


@dataclass
class Synced:
    """Two consoles over one synced store: open (loopback) and with a token."""

    url: str
    locked_url: str
    first: int
    noop: int
    undo: int
    member: tuple[str, str]  # a Mailchimp member's email and contact_id, as the emulator has them


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """A full sync, a sync that changes nothing, an undo of the first; two consoles on them."""
    servers: list[UiServer] = []
    rt: Runtime | None = None
    with sandbox_and_store(tmp_path_factory, "views", 200, seed=5) as (sb, db_url, retry):
        try:
            settings = make_settings(sb, db_url, max_removals_pct=100, max_removals=100_000)
            rt = open_runtime(settings, retry=retry)
            first = rt.syncer.sync(trigger="manual", full=True)
            assert first.status is RunStatus.SUCCESS and first.run_id, first.error
            noop = rt.syncer.sync(trigger="schedule")
            assert noop.status is RunStatus.SUCCESS and noop.run_id, noop.error
            undo = rt.syncer.undo(first.run_id)
            assert undo.status is RunStatus.SUCCESS and undo.run_id, undo.error
            with sb.state_lock():
                m = next(m for m in sb.mailchimp.members.values() if "@" in m.email)
                member = (m.email.strip().lower(), m.contact_id)
            links = ExternalLinks(hubspot_portal_id=PORTAL, mailchimp_dc="us21")
            for token in (None, TOKEN):
                app = create_app(
                    rt.db, "default", rt.rules, token=token, approve=rt.syncer.release,
                    links=links,
                )  # fmt: skip
                servers.append(serve(app, "127.0.0.1", 0, token, background=True))
            yield Synced(
                servers[0].url, servers[1].url, first.run_id, noop.run_id, undo.run_id, member
            )
        finally:
            for server in servers:
                server.stop()
            if rt is not None:
                rt.close()


@pytest.fixture
def narrow(browser: object) -> Iterator[object]:
    """A fresh page 420 px wide, a phone held upright."""
    yield from open_page(browser, 420, 860)


def test_runs_filters_charts_and_the_undo_links(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    p.goto(f"{synced.url}/runs")  # type: ignore[attr-defined]
    expect(p.locator("svg.runs-chart")).to_have_count(3)  # type: ignore[attr-defined]
    bars = p.locator("svg.runs-chart").first.locator("a")  # type: ignore[attr-defined]
    expect(bars).to_have_count(3)  # one bar per run
    expect(p.locator("nav.pager .count").first).to_have_text(  # type: ignore[attr-defined]
        "Showing 1\u20133 of 3 runs"
    )
    shot(p, "11-runs-charts")
    p.select_option("select[name=trigger]", "undo")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Filter").click()  # type: ignore[attr-defined]
    expect(p).to_have_url(re.compile(r"trigger=undo"))
    rows = p.locator("table.runs tbody tr")  # type: ignore[attr-defined]
    expect(rows).to_have_count(1)
    rows.first.locator(f'a[href="/runs/{synced.first}"]').click()
    expect(p.locator("h1")).to_contain_text(f"Run #{synced.first}")  # type: ignore[attr-defined]
    expect(p.locator(".undone-by")).to_contain_text(f"run #{synced.undo}")  # type: ignore[attr-defined]
    p.locator(".undone-by a").click()  # type: ignore[attr-defined]
    expect(p.locator(".undo-of")).to_contain_text(f"undoes run #{synced.first}")  # type: ignore[attr-defined]
    shot(p, "12-undo-run")


def test_a_run_that_changed_nothing_says_so(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    p.goto(f"{synced.url}/runs/{synced.noop}")  # type: ignore[attr-defined]
    expect(p.locator(".nothing")).to_contain_text("Nothing changed")  # type: ignore[attr-defined]
    time = p.locator("dl.facts time").first  # type: ignore[attr-defined]
    expect(time).to_have_text(re.compile(r"ago$|just now"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", time.get_attribute("title"))


def test_change_log_filters_count_and_export_every_row(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    p.goto(f"{synced.url}/changes")  # type: ignore[attr-defined]
    first = p.locator("table.events tbody tr td a[href^='/contacts/']").first  # type: ignore[attr-defined]
    part = first.inner_text()[:4].upper()  # part of an email, another case
    p.fill("input[name=contact]", part)  # type: ignore[attr-defined]
    p.select_option("select[name=outcome]", "applied")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Search").click()  # type: ignore[attr-defined]
    expect(p).to_have_url(re.compile(r"outcome=applied"))
    count = p.locator("nav.pager .count").first.inner_text()  # type: ignore[attr-defined]
    found = re.fullmatch(r"Showing 1\u2013(\d+) of ([\d,]+) changes", count)
    assert found, count
    emails = p.locator("table.events tbody tr td a[href^='/contacts/']").all_inner_texts()  # type: ignore[attr-defined]
    assert emails and all(part.lower() in e for e in emails)
    shot(p, "13-changes-filtered")
    href = p.locator("a", has_text="Export CSV").get_attribute("href")  # type: ignore[attr-defined]
    body = p.request.get(f"{synced.url}{href}").text()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == int(found.group(2).replace(",", ""))
    assert {r["outcome"] for r in rows} == {"applied"}


def test_contacts_search_by_name_links_to_hubspot(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    p.goto(f"{synced.url}/contacts")  # type: ignore[attr-defined]
    names = [n for n in p.locator("table.contacts tbody td:nth-child(2)").all_inner_texts() if n]  # type: ignore[attr-defined]
    assert names, "the sandbox's contacts have names"
    word = names[0].split()[-1]
    p.fill("main input[name=q]", word.lower())  # type: ignore[attr-defined]
    p.get_by_role("button", name="Search").click()  # type: ignore[attr-defined]
    rows = p.locator("table.contacts tbody tr")  # type: ignore[attr-defined]
    expect(rows.first).to_be_visible()
    for name in rows.locator("td:nth-child(2)").all_inner_texts():
        assert word.lower() in name.lower() or word.lower() in rows.first.inner_text().lower()
    shot(p, "14-contacts-search")
    rows.first.locator("a[href^='/contacts/']").click()
    link = p.locator("a.ext", has_text="HubSpot")  # type: ignore[attr-defined]
    expect(link).to_have_attribute(
        "href", re.compile(rf"^https://app\.hubspot\.com/contacts/{PORTAL}/record/0-1/\d+$")
    )


def test_a_mailchimp_member_links_to_its_contact_profile(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    email, contact_id = synced.member
    p.goto(f"{synced.url}/contacts?q={email}")  # type: ignore[attr-defined]
    row = p.locator("table.contacts tbody tr").first  # type: ignore[attr-defined]
    profile = f"https://us21.admin.mailchimp.com/audience/contact-profile?contact_id={contact_id}"
    expect(row.locator("a.ext", has_text="Mailchimp")).to_have_attribute("href", profile)
    row.locator("a[href^='/contacts/']").click()
    expect(p.locator("main a.ext", has_text="Mailchimp")).to_have_attribute("href", profile)  # type: ignore[attr-defined]


def test_login_page_has_no_navigation_until_logged_in(synced: Synced, page: object) -> None:
    expect = playwright_sync.expect
    p: object = page
    p.goto(f"{synced.locked_url}/runs")  # type: ignore[attr-defined]
    expect(p).to_have_url(re.compile(r"/login"))
    expect(p.locator("nav")).to_have_count(0)  # type: ignore[attr-defined]
    expect(p.get_by_text("Log out")).to_have_count(0)  # type: ignore[attr-defined]
    shot(p, "15-login")
    p.fill("input[name=token]", TOKEN)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    expect(p.locator("header nav")).to_be_visible()  # type: ignore[attr-defined]
    expect(p.get_by_role("button", name="Log out")).to_be_visible()  # type: ignore[attr-defined]


def test_every_page_fits_420_px_and_tables_scroll_inside(synced: Synced, narrow: object) -> None:
    p: object = narrow
    p.goto(f"{synced.url}/contacts")  # type: ignore[attr-defined]
    email = p.locator("table.contacts tbody a[href^='/contacts/']").first.inner_text()  # type: ignore[attr-defined]
    paths = [
        "/runs", "/runs?trigger=undo", f"/runs/{synced.first}", f"/runs/{synced.noop}",
        f"/runs/{synced.undo}", "/changes", "/changes?outcome=applied", "/contacts",
        f"/contacts?q={email[:3]}", f"/contacts/{email}", "/segments", "/runs/999999",
    ]  # fmt: skip
    pages = [f"{synced.url}{path}" for path in paths] + [f"{synced.locked_url}/login"]
    for n, url in enumerate(pages):
        p.goto(url)  # type: ignore[attr-defined]
        wide = p.evaluate(  # type: ignore[attr-defined]
            "[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
        )
        assert max(wide[0], wide[1]) <= wide[2] == 420, f"{url} scrolls sideways: {wide}"
        shot(p, f"2{n:02d}-narrow", full_page=False)
    p.goto(f"{synced.url}/runs")  # type: ignore[attr-defined]
    inner = p.evaluate(  # type: ignore[attr-defined]
        "(() => { const s = document.querySelector('.scroll');"
        " return [s.scrollWidth, s.clientWidth]; })()"
    )
    assert inner[0] > inner[1], "the runs table is wider than the phone and scrolls inside"
