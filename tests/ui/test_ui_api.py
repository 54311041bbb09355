"""The JSON API on SQLite and PostgreSQL: the data behind each page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.ui.conftest import TOKEN
from tests.ui.seed import Seeded


def test_runs_newest_first_with_status_filter(client: TestClient, seeded: Seeded) -> None:
    runs = client.get("/api/runs").json()
    assert [r["id"] for r in runs] == [seeded.held_run, seeded.partial_run, seeded.ok_run]
    held = client.get("/api/runs", params={"status": "held"}).json()
    assert [r["id"] for r in held] == [seeded.held_run]
    assert runs[1]["failures"][0]["hint"] == "member unsubscribed; syncd never re-subscribes"


def test_run_detail_has_events_and_held_plan(client: TestClient, seeded: Seeded) -> None:
    held = client.get(f"/api/runs/{seeded.held_run}").json()
    plan = held["plan"]
    assert plan["pending"] == 9
    assert plan["targets"] == {"mailchimp_tag:newsletter": {"remove": 9}}
    sample = plan["samples"]["mailchimp_tag:newsletter"][0]
    assert sample == {
        "email": "alice@example.com",
        "action": "remove",
        "value": None,
        "reason": "left rule 'newsletter'",
    }
    done = client.get(f"/api/runs/{seeded.ok_run}").json()
    assert done["plan"] is None and len(done["events"]) == 3
    assert client.get("/api/runs/424242").status_code == 404


def test_events_filters(client: TestClient, seeded: Seeded) -> None:
    def emails(**params: str | int) -> list[str]:
        return [e["email"] for e in client.get("/api/events", params=params).json()]

    assert emails(contact="ALICE@example.com") == ["alice@example.com"] * 3
    assert emails(run_id=seeded.partial_run, outcome="rejected") == ["person3@example.com"]
    assert emails(start="2025-03-14") == []
    assert len(emails(end="2025-03-12")) == 3
    assert emails(limit=1) == ["person3@example.com"] or len(emails(limit=1)) == 1
    rejected = client.get("/api/events", params={"outcome": "rejected"}).json()[0]
    assert rejected["hint"] == "member unsubscribed; syncd never re-subscribes"


def test_contact_detail(client: TestClient) -> None:
    contact = client.get("/api/contacts/alice@example.com").json()
    assert contact["profile"]["first_name"] == "Alice"
    assert contact["explain"]["journey_stage"] == "customer"
    states = {s["target"]: s["state"] for s in contact["history"]}
    assert states == {"mailchimp_tag:newsletter": "member", "hubspot_list:high-value": "left"}
    assert contact["memberships"][0]["target"] == "mailchimp_tag:newsletter"
    assert client.get("/api/contacts/nobody@example.com").status_code == 404


def test_segments_report_and_history(client: TestClient, seeded: Seeded) -> None:
    data = client.get("/api/segments").json()
    assert data["report"]["contacts"] == 11
    assert [p["run_id"] for p in data["history"]] == [
        seeded.ok_run,
        seeded.partial_run,
        seeded.held_run,
        None,
    ]
    assert data["history"][1]["sizes"] == {"newsletter": 5, "high-value": 2}
    jaccards = [p["jaccard"] for p in data["top_overlap"]]
    assert jaccards == sorted(jaccards, reverse=True) and len(jaccards) <= 15
    assert all(p["a"] < p["b"] for p in data["top_overlap"])


def test_openapi_schema_lists_the_api_and_not_the_pages(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/approve", "/api/events",
            "/api/events.csv", "/api/contacts/{email}", "/api/segments"} <= paths  # fmt: skip
    assert all(p.startswith("/api/") for p in paths)
    assert "securitySchemes" not in schema.get("components", {})  # no token, no auth


def test_openapi_schema_documents_bearer_auth_when_a_token_is_set(locked: TestClient) -> None:
    schema = locked.get("/api/openapi.json", headers={"authorization": "Bearer " + TOKEN}).json()
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/api/runs"]["get"]["security"] == [{"HTTPBearer": []}]
