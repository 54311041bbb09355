"""The console's listings on each backend: run filters, charts and paging; the change log's
partial contact match, menus, counts, paging and full CSV (equal to `syncd audit --json`);
the contacts search; human times; vendor links; "nothing changed" and undo links.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from syncd.cli import app as cli
from syncd.segments import RuleSet
from syncd.store.models import AuditEvent, RunStatus
from syncd.ui.links import ExternalLinks
from tests.ui.conftest import MAPPINGS, FakeRelease, csrf_token, make_app, post_approve
from tests.ui.seed import NOW, WS, Seeded, _insert, _run


def add_events(db: Engine, run_id: int, n: int, **values: Any) -> None:
    """`n` applied adds in run `run_id`, one a minute before `NOW`, for bulk tests."""
    with db.begin() as conn:
        for i in range(n):
            row = {
                "workspace": WS, "run_id": run_id, "at": NOW - timedelta(minutes=i + 1),
                "contact_id": None, "email": f"bulk{i}@example.com", "segment": "bulk",
                "target": "mailchimp_tag:bulk", "action": "add", "reason": "rule 'bulk'",
                "outcome": "applied",
            }  # fmt: skip
            row.update(values)
            _insert(conn, AuditEvent, **row)


def showing(first: int, last: int, total: int, noun: str) -> str:
    """A listing's count line, as the pager writes it (with an en dash)."""
    return f"Showing {first}\u2013{last} of {total} {noun}"


def rows_of(page: str, table: str) -> list[str]:
    """The body rows of the first `<table class="... {table}">` of a page."""
    found = re.search(rf'<table class="[^"]*\b{table}\b[^"]*">(.*?)</table>', page, re.S)
    assert found, f"no {table} table"
    return re.findall(r"<tr[ >].*?</tr>", found.group(1).split("<tbody>", 1)[-1], re.S)


# --- runs ---------------------------------------------------------------------------------------


def test_runs_filter_by_trigger_and_date_and_say_how_many(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get("/runs", params={"trigger": "manual"}).text
    assert len(rows_of(page, "runs")) == 1 and f'href="/runs/{seeded.ok_run}"' in page
    assert showing(1, 1, 1, "runs") in page
    page = client.get("/runs", params={"start": "2025-03-13", "end": "2025-03-13"}).text
    runs = rows_of(page, "runs")
    assert len(runs) == 1 and f'href="/runs/{seeded.partial_run}"' in runs[0]
    assert client.get("/runs", params={"trigger": "bogus"}).status_code == 422


def test_runs_page_pages_newest_first(client: TestClient, seeded: Seeded) -> None:
    first = client.get("/runs", params={"limit": 2}).text
    assert showing(1, 2, 3, "runs") in first
    assert [f"/runs/{seeded.held_run}", f"/runs/{seeded.partial_run}"] == re.findall(
        r'<td><a href="(/runs/\d+)">', first
    )
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older and "offset=2" in older.group(1)
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert showing(3, 3, 3, "runs") in second and 'rel="prev"' in second
    assert re.findall(r'<td><a href="(/runs/\d+)">', second) == [f"/runs/{seeded.ok_run}"]


def test_runs_page_charts_each_run_by_date_as_svg(client: TestClient, seeded: Seeded) -> None:
    page = client.get("/runs").text
    charts = re.findall(r'<svg class="chart runs-chart".*?</svg>', page, re.S)
    assert len(charts) == 3  # changes by kind, duration, failures and holds
    changes, duration, failures = charts
    for chart in charts:  # one bar (a link to the run) per run, oldest left
        assert re.findall(r'<a href="/runs/(\d+)"', chart) == [
            str(seeded.ok_run),
            str(seeded.partial_run),
            str(seeded.held_run),
        ]
        assert "Mar 12" in chart and "Mar 14" in chart  # dates along x
    assert "added 4" in changes and 'fill="#16a34a"' in changes  # the ok run's adds
    assert "duration 42 s" in duration
    assert "rejected 1" in failures and 'class="mark mark-held"' in failures
    assert "<script" not in page.split("<main>", 1)[1]  # no JavaScript anywhere


def test_no_op_run_says_nothing_changed(client: TestClient, db: Engine) -> None:
    with db.begin() as conn:
        noop = _run(conn, RunStatus.SUCCESS, NOW - timedelta(minutes=3), {"targets": {}})
    page = client.get(f"/runs/{noop}").text
    assert "Nothing changed" in page
    listing = client.get("/runs").text
    row = next(r for r in rows_of(listing, "runs") if f'href="/runs/{noop}"' in r)
    assert "nothing changed" in row and "3 min ago" in row


def test_undo_run_links_to_the_run_it_undoes_and_back(
    client: TestClient, db: Engine, seeded: Seeded
) -> None:
    with db.begin() as conn:
        undo = _run(
            conn, RunStatus.SUCCESS, NOW - timedelta(minutes=10),
            {"targets": {"mailchimp_tag:newsletter": {"removed": 3}}, "undo_of": seeded.ok_run},
            trigger="undo",
        )  # fmt: skip
    page = client.get(f"/runs/{undo}").text
    assert f'This run undoes <a href="/runs/{seeded.ok_run}">run #{seeded.ok_run}</a>' in page
    original = client.get(f"/runs/{seeded.ok_run}").text
    assert f'Undone by <a href="/runs/{undo}">run #{undo}</a>' in original
    listing = client.get("/runs", params={"trigger": "undo"}).text
    assert f'of <a href="/runs/{seeded.ok_run}">#{seeded.ok_run}</a>' in listing
    assert client.get(f"/api/runs/{undo}").json()["run"]["undo_of"] == seeded.ok_run
    assert client.get(f"/api/runs/{seeded.ok_run}").json()["undone_by"] == [undo]


def test_run_page_counts_and_pages_its_changes(
    client: TestClient, db: Engine, seeded: Seeded
) -> None:
    add_events(db, seeded.ok_run, 57)
    page = client.get(f"/runs/{seeded.ok_run}").text
    assert showing(1, 50, 60, "changes") in page and len(rows_of(page, "events")) == 50
    older = re.search(r'href="([^"]+)" rel="next"', page)
    assert older and older.group(1) == f"/runs/{seeded.ok_run}?offset=50"
    rest = client.get(older.group(1)).text
    assert showing(51, 60, 60, "changes") in rest and len(rows_of(rest, "events")) == 10
    api = client.get(f"/api/runs/{seeded.ok_run}", params={"offset": 50}).json()
    assert api["events_total"] == 60 and len(api["events"]) == 10


# --- the change log -----------------------------------------------------------------------------


def test_change_log_matches_part_of_an_email(client: TestClient) -> None:
    page = client.get("/changes", params={"contact": "ALIC"}).text
    emails = set(re.findall(r'href="/contacts/([^"]+)"', "".join(rows_of(page, "events"))))
    assert emails == {"alice%40example.com"}
    assert showing(1, 3, 3, "changes") in page
    assert client.get("/api/events", params={"contact": "%"}).json() == []  # no wildcard


def test_change_log_filters_by_outcome_run_and_action_from_menus(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get("/changes").text
    for value in ("applied", "rejected", "mailchimp_tag:newsletter", "high-value", "remove"):
        assert f'<option value="{value}"' in page  # menus hold what the log holds
    rejected = client.get("/changes", params={"outcome": "rejected"}).text
    rows = rows_of(rejected, "events")
    assert len(rows) == 1 and "person3@example.com" in rows[0]
    assert showing(1, 1, 1, "changes") in rejected
    in_run = rows_of(client.get("/changes", params={"run_id": seeded.partial_run}).text, "events")
    assert len(in_run) == 2
    removes = rows_of(client.get("/changes", params={"action": "remove"}).text, "events")
    assert len(removes) == 1 and "alice@example.com" in removes[0]


def test_change_log_pages_and_counts(client: TestClient, db: Engine, seeded: Seeded) -> None:
    add_events(db, seeded.ok_run, 230)
    page = client.get("/changes", params={"segment": "bulk"}).text
    assert showing(1, 100, 230, "changes") in page and len(rows_of(page, "events")) == 100
    assert "Export CSV (230)" in page
    last = client.get("/changes", params={"segment": "bulk", "offset": 200}).text
    assert showing(201, 230, 230, "changes") in last and 'rel="next"' not in last
    api = client.get("/api/events", params={"segment": "bulk", "limit": 10})
    assert api.headers["x-total-count"] == "230" and len(api.json()) == 10


def test_csv_export_has_every_row_and_as_many_as_syncd_audit_json(
    client: TestClient,
    db: Engine,
    db_url: str,
    seeded: Seeded,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_events(db, seeded.ok_run, 450)
    add_events(db, seeded.partial_run, 20, outcome="rejected", segment="bulk")
    body = client.get("/api/events.csv", params={"outcome": "applied"}).text
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 450 + 4  # every applied row, far past one page (no 200 cap)
    assert {r["outcome"] for r in rows} == {"applied"}
    assert len({r["id"] for r in rows}) == len(rows)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", db_url)
    monkeypatch.setenv("SYNCD_MAPPINGS", str(MAPPINGS))
    for flags, params in (
        (["--outcome", "applied"], {"outcome": "applied"}),
        (["--segment", "bulk"], {"segment": "bulk"}),
        (["--run", str(seeded.partial_run)], {"run_id": str(seeded.partial_run)}),
    ):
        result = CliRunner().invoke(cli, ["audit", "--json", *flags])
        assert result.exit_code == 0, result.output
        audited = json.loads(result.stdout)
        events = audited if isinstance(audited, list) else audited["events"]
        exported = list(
            csv.DictReader(io.StringIO(client.get("/api/events.csv", params=params).text))
        )
        assert len(exported) == len(events) > 0, flags
        assert [r["id"] for r in exported] == [str(e["id"]) for e in events]


# --- contacts -----------------------------------------------------------------------------------


def test_contacts_search_by_part_of_an_email_or_a_name(client: TestClient) -> None:
    page = client.get("/contacts", params={"q": "person1"}).text
    emails = re.findall(r'<td><a href="/contacts/([^"]+)">', page)
    assert emails == ["person10%40example.com", "person11%40example.com"]  # person1 is none
    assert showing(1, 2, 2, "contacts") in page
    by_name = client.get("/contacts", params={"q": "alice"}).text
    assert re.findall(r'<td><a href="/contacts/([^"]+)">', by_name) == ["alice%40example.com"]
    both = client.get("/contacts", params={"q": "person4 example"}).text
    assert re.findall(r'<td><a href="/contacts/([^"]+)">', both) == ["person4%40example.com"]
    everyone = client.get("/api/contacts", params={"limit": 5}).json()
    assert everyone["total"] == 11 and len(everyone["contacts"]) == 5
    assert client.get("/api/contacts", params={"q": "Person7"}).json()["total"] == 1  # a name


def test_contacts_search_escapes_names(client: TestClient) -> None:
    page = client.get("/contacts", params={"q": "evil"}).text
    assert "&lt;script&gt;" in page and "<script>alert" not in page


def test_old_email_box_still_opens_the_contact(client: TestClient) -> None:
    response = client.get("/contacts", params={"email": "Alice@Example.com"})
    assert response.status_code == 303 and response.headers["location"].endswith(
        "/contacts/alice@example.com"
    )


# --- times, links, login, read-only ----------------------------------------------------------


def test_times_read_as_ages_with_the_exact_time_on_hover(client: TestClient) -> None:
    page = client.get("/runs").text
    assert (
        '<time datetime="2025-03-12T12:00:00+00:00" title="2025-03-12 12:00:00 UTC">2 d ago</time>'
        in page
    )
    assert ">1 h ago</time>" in page


@pytest.fixture
def linked(db: Engine, rules: RuleSet, release: FakeRelease, seeded: Seeded) -> TestClient:
    """A console that knows the HubSpot portal and the Mailchimp data centre."""
    from syncd.store.models import Contact
    from syncd.store.types import table_of

    contacts = table_of(Contact)
    with db.begin() as conn:  # alice's member carries Mailchimp's contact_id
        conn.execute(
            contacts.update()
            .where(contacts.c.email == seeded.alice)
            .values(mailchimp_key="c0ffee42")
        )
    links = ExternalLinks(hubspot_portal_id=4242, mailchimp_dc="us21")
    return TestClient(make_app(db, rules, release, None, links=links), follow_redirects=False)


def test_contacts_and_changes_link_to_hubspot_and_mailchimp(linked: TestClient) -> None:
    hubspot = "https://app.hubspot.com/contacts/4242/record/0-1/1001"
    mailchimp = "https://us21.admin.mailchimp.com/audience/contact-profile?contact_id=c0ffee42"
    contact = linked.get("/contacts/alice@example.com").text
    assert f'href="{hubspot}"' in contact and f'href="{mailchimp}"' in contact
    assert 'rel="noopener noreferrer"' in contact
    changes = rows_of(linked.get("/changes", params={"contact": "alice"}).text, "events")
    assert all(f'href="{hubspot}"' in row and f'href="{mailchimp}"' in row for row in changes)
    found = linked.get("/contacts", params={"q": "alice"}).text
    assert f'href="{hubspot}"' in found
    other = linked.get("/contacts/person3@example.com").text  # no contact_id stored: no link
    assert "record/0-1/1003" in other and "admin.mailchimp.com" not in other
    assert linked.get("/api/contacts/alice@example.com").json()["hubspot_url"] == hubspot


def test_no_vendor_links_without_portal_or_data_centre(client: TestClient) -> None:
    page = client.get("/contacts/alice@example.com").text
    assert "app.hubspot.com" not in page and "admin.mailchimp.com" not in page


def test_login_page_has_no_nav_and_no_log_out(locked: TestClient) -> None:
    page = locked.get("/login").text
    assert "<nav" not in page and "Log out" not in page and "/logout" not in page
    assert 'name="token"' in page


def test_read_only_console_shows_approve_disabled_with_the_reason(
    db: Engine, rules: RuleSet, seeded: Seeded
) -> None:
    reason = "neither hubspot nor mailchimp is configured"
    app = make_app(db, rules, None, None, read_only=reason)  # type: ignore[arg-type]
    client = TestClient(app, follow_redirects=False)
    page = client.get(f"/runs/{seeded.held_run}").text
    assert re.search(r"<button[^>]*disabled[^>]*>Approve…", page)
    assert f"Approve and Reject are off: {reason}" in page and f"Read-only: {reason}" in page
    token = csrf_token(client, seeded.held_run)
    response = post_approve(client, seeded.held_run, token)
    assert response.status_code == 409 and reason in response.text
    for path in ("/runs", "/changes", "/contacts", "/segments", f"/runs/{seeded.ok_run}"):
        assert client.get(path).status_code == 200, path


def test_open_console_reads_any_migrated_store_without_connector_settings(
    db_url: str, seeded: Seeded
) -> None:
    from syncd.config import Settings
    from syncd.ui import open_console

    settings = Settings(database_url=db_url, mappings=MAPPINGS)
    app, token, close = open_console(settings)
    try:
        client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        assert token is None
        for path in ("/runs", "/changes", "/contacts", "/segments", f"/runs/{seeded.held_run}"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "Read-only: neither hubspot nor mailchimp is configured" in page.text
        assert "disabled" in client.get(f"/runs/{seeded.held_run}").text
    finally:
        close()
    configured = Settings(
        database_url=db_url,
        mappings=MAPPINGS,
        hubspot={"access_token": "pat-na1-x", "base_url": "http://127.0.0.1:9"},
        ui={"hubspot_portal_id": 77},
    )
    app, _, close = open_console(configured)
    try:
        client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        page = client.get(f"/runs/{seeded.held_run}").text
        assert "Read-only" not in page and "disabled" not in page
        assert (
            "https://app.hubspot.com/contacts/77/record/0-1/1001"
            in client.get("/contacts/alice@example.com").text
        )
    finally:
        close()


def test_forms_submitted_with_empty_fields_do_not_filter(client: TestClient) -> None:
    runs = client.get("/runs", params={"status": "", "trigger": "", "start": "", "end": ""})
    assert runs.status_code == 200 and len(rows_of(runs.text, "runs")) == 3
    empty = {"contact": "", "outcome": "", "run_id": "", "start": "", "end": "", "segment": ""}
    changes = client.get("/changes", params=empty)
    assert changes.status_code == 200 and len(rows_of(changes.text, "events")) == 5
    assert client.get("/changes", params={"run_id": "0"}).status_code == 422


def test_csv_export_streams_in_pieces(client: TestClient, db: Engine, seeded: Seeded) -> None:
    from syncd.store.history import iter_events_csv

    pieces = list(iter_events_csv(({"id": i, "email": f"=x{i}"} for i in range(450)), chunk=200))
    assert [p.count("\n") for p in pieces] == [201, 200, 50]  # header + rows, 200 at a time
    assert "'=x0" in pieces[0]  # spreadsheet-safe, as events_to_csv
    add_events(db, seeded.ok_run, 450)
    with client.stream("GET", "/api/events.csv") as response:
        assert "content-length" not in response.headers  # streamed, not built in memory
        chunks = list(response.iter_text())
    assert sum(c.count("\n") for c in chunks) == 1 + 450 + 5


def test_contacts_search_finds_the_mailchimp_address_too(
    client: TestClient, db: Engine, seeded: Seeded
) -> None:
    from syncd.store.models import Contact
    from syncd.store.types import table_of

    contacts = table_of(Contact)
    with db.begin() as conn:
        conn.execute(
            contacts.update()
            .where(contacts.c.email == seeded.alice)
            .values(mailchimp_email="ada.lovelace@mail.example")
        )
    page = client.get("/contacts", params={"q": "lovelace"}).text
    assert re.findall(r'<td><a href="/contacts/([^"]+)">', page) == ["alice%40example.com"]


def test_reject_goes_through_the_reject_path_with_csrf(
    db: Engine, rules: RuleSet, seeded: Seeded
) -> None:
    calls: list[int] = []
    app = make_app(db, rules, None, None, reject=calls.append)  # type: ignore[arg-type]
    client = TestClient(app, follow_redirects=False)
    token = csrf_token(client, seeded.held_run)
    url, origin = f"/runs/{seeded.held_run}/reject", {"origin": "http://testserver"}
    assert client.post(url, data={"csrf_token": "forged"}, headers=origin).status_code == 403
    assert calls == []
    response = client.post(url, data={"csrf_token": token}, headers=origin)
    assert response.status_code == 303 and calls == [seeded.held_run]
    assert response.headers["location"] == f"/runs/{seeded.held_run}?notice=rejected"
