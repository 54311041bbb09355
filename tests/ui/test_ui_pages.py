"""The HTML pages on SQLite and PostgreSQL: each renders the seeded store as an admin reads it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.ui.conftest import FakeRelease, csrf_token, post_approve
from tests.ui.seed import Seeded


def test_home_redirects_to_runs(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/runs"


def test_runs_page_lists_runs_with_badges_counts_and_duration(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get("/runs").text
    for run_id in (seeded.ok_run, seeded.partial_run, seeded.held_run):
        assert f'href="/runs/{run_id}"' in page
    assert 'class="badge badge-held"' in page and 'class="badge badge-partial"' in page
    assert "42 s" in page  # rounded
    assert "member unsubscribed; syncd never re-subscribes" in page  # the partial run's hint


def test_runs_page_filters_by_status(client: TestClient, seeded: Seeded) -> None:
    page = client.get("/runs", params={"status": "held"}).text
    assert f'href="/runs/{seeded.held_run}"' in page
    assert f'href="/runs/{seeded.ok_run}"' not in page
    assert client.get("/runs", params={"status": "bogus"}).status_code == 422


def test_run_page_shows_changes_per_target_and_errors_with_hints(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get(f"/runs/{seeded.partial_run}").text
    assert "mailchimp_tag:newsletter" in page
    assert "in compliance state" in page
    assert "member unsubscribed; syncd never re-subscribes" in page
    assert "Approve" not in page


def test_held_run_page_shows_plan_samples_and_approve_button(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get(f"/runs/{seeded.held_run}").text
    assert "Held plan" in page and "would remove 9 of 10 members" in page
    assert re.search(r"<td class=\"num\">9</td>", page)  # removes for the tag
    assert 'href="/contacts/alice%40example.com"' in page  # a sample contact, linked
    assert "left rule &#39;newsletter&#39;" in page  # its reason
    assert f'href="/runs/{seeded.held_run}/confirm?action=approve"' in page
    assert f'href="/runs/{seeded.held_run}/confirm?action=reject"' in page


def test_approve_and_reject_each_confirm_with_the_counts_repeated(
    client: TestClient, seeded: Seeded
) -> None:
    for action, verb in (("approve", "Approve and apply"), ("reject", "Reject")):
        page = client.get(f"/runs/{seeded.held_run}/confirm?action={action}").text
        assert f"{verb} the held plan of run #{seeded.held_run}?" in page
        assert re.search(r"<td class=\"num\">9</td>", page)  # the removes, repeated
        assert f'action="/runs/{seeded.held_run}/{action}"' in page
        assert 'name="csrf_token"' in page and f"{verb} 9 changes" in page
    assert client.get(f"/runs/{seeded.ok_run}/confirm").status_code == 409
    assert client.get(f"/runs/{seeded.held_run}/confirm?action=drop").status_code == 422


def test_the_runs_page_shows_what_waits_for_a_decision_at_the_top(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get("/runs").text
    banner = page.index("Waiting for a decision")
    assert banner < page.index("<table")
    assert f'href="/runs/{seeded.held_run}">review run #{seeded.held_run}' in page


def test_approve_button_releases_through_the_approve_path(
    client: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    response = post_approve(client, seeded.held_run, token)
    assert response.status_code == 303, response.text
    assert release.calls == [seeded.held_run]
    after = client.get(response.headers["location"]).text
    assert "Run released" in after and "badge-success" in after


def test_approving_a_run_that_is_not_held_shows_why(
    client: TestClient, seeded: Seeded, release: FakeRelease
) -> None:
    token = csrf_token(client, seeded.held_run)
    response = post_approve(client, seeded.ok_run, token)
    assert response.status_code == 409
    assert "not held; nothing to release" in response.text


def test_unknown_run_is_404(client: TestClient) -> None:
    response = client.get("/runs/999999")
    assert response.status_code == 404 and "does not exist" in response.text


def table_of_changes(page: str) -> str:
    """The change-log table's body of a page (the filter menus list every target and segment)."""
    found = re.search(r'<table class="grid compact events">.*?</table>', page, re.S)
    return found.group(0) if found else ""


def test_change_log_search_by_contact_segment_target_and_dates(client: TestClient) -> None:
    page = table_of_changes(client.get("/changes", params={"contact": "alice@example.com"}).text)
    assert page.count('href="/contacts/alice%40example.com"') == 3
    assert "person3@example.com" not in page
    page = table_of_changes(client.get("/changes", params={"segment": "high-value"}).text)
    assert "hubspot_list:high-value" in page and "mailchimp_tag:newsletter" not in page
    page = table_of_changes(
        client.get("/changes", params={"target": "mailchimp_tag:newsletter"}).text
    )
    assert "hubspot_list:high-value" not in page
    one_day = {"start": "2025-03-13", "end": "2025-03-13"}
    page = table_of_changes(client.get("/changes", params=one_day).text)
    assert "person3@example.com" in page and "evil@example.com" not in page
    day = {"start": "2025-03-12", "end": "2025-03-12"}
    page = table_of_changes(client.get("/changes", params=day).text)
    assert "evil@example.com" in page and "person3@example.com" not in page


def test_change_log_links_a_csv_export_of_the_same_search(client: TestClient) -> None:
    page = client.get("/changes", params={"contact": "alice@example.com"}).text
    assert 'href="/api/events.csv?contact=alice%40example.com"' in page
    csv = client.get("/api/events.csv", params={"contact": "alice@example.com"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,at,run_id") and len(lines) == 4


def test_contact_page_shows_profile_explain_and_membership_history(
    client: TestClient, seeded: Seeded
) -> None:
    page = client.get("/contacts/alice@example.com").text
    assert "<h1>alice@example.com</h1>" in page
    assert "Alice" in page  # a profile field
    assert "journey stage <strong>customer</strong>" in page
    assert 'class="trace"' in page and "lifecycle_stage" in page  # explain trace
    assert "Membership history" in page and "hubspot_list:high-value" in page
    assert f'href="/runs/{seeded.partial_run}"' in page  # left in that run


def test_contact_search_box_redirects_and_unknown_contact_is_404(client: TestClient) -> None:
    response = client.get("/contacts", params={"email": " Alice@Example.com "})
    assert response.headers["location"] == "/contacts/alice@example.com"
    missing = client.get("/contacts/nobody@example.com")
    assert missing.status_code == 404 and "No contact with the email" in missing.text


def test_segments_page_draws_sizes_over_time_and_the_report(client: TestClient) -> None:
    page = client.get("/segments").text
    assert '<svg class="chart"' in page
    assert page.count('<polyline class="series"') >= 2
    for run_label in ("run 1", "run 2", "run 3", "now"):
        assert f">{run_label}</text>" in page
    assert "Field coverage" in page and "Overlap" in page and "Sizes and KPIs" in page
    assert "Warnings" in page and "under its min_size" in page
