"""The emulator's optional per-request latency (`latency_ms` in `/_sandbox/faults`)."""

from __future__ import annotations

import time

import requests

from syncd.sandbox import Sandbox

LATENCY_MS = 150


def _contacts_page(sb: Sandbox) -> float:
    start = time.perf_counter()
    r = requests.get(
        f"{sb.hubspot_url}/crm/v3/objects/contacts?limit=1",
        headers={"Authorization": f"Bearer {sb.hubspot_token}"},
        timeout=10,
    )
    assert r.status_code == 200
    return time.perf_counter() - start


def test_latency_holds_every_vendor_request_and_not_the_controls(fresh: Sandbox) -> None:
    r = requests.post(
        f"{fresh.base_url}/_sandbox/faults", json={"latency_ms": LATENCY_MS}, timeout=10
    )
    assert r.status_code == 200 and r.json()["latency_ms"] == LATENCY_MS
    assert (
        requests.get(f"{fresh.base_url}/_sandbox/faults", timeout=10).json()["latency_ms"]
        == LATENCY_MS
    )
    assert _contacts_page(fresh) >= LATENCY_MS / 1000  # a lower bound: never flaky
    start = time.perf_counter()
    r = requests.get(
        f"{fresh.mailchimp_url}/lists/{fresh.audience_id}/members?count=1",
        auth=("anystring", fresh.mailchimp_key),
        timeout=10,
    )
    assert r.status_code == 200
    assert time.perf_counter() - start >= LATENCY_MS / 1000
    # A configuration without the key means no latency.
    requests.post(f"{fresh.base_url}/_sandbox/faults", json={}, timeout=10)
    assert requests.get(f"{fresh.base_url}/_sandbox/faults", timeout=10).json()["latency_ms"] == 0


def test_bad_latency_is_refused(fresh: Sandbox) -> None:
    for bad in (-1, "fast", True, 120_000):
        r = requests.post(f"{fresh.base_url}/_sandbox/faults", json={"latency_ms": bad}, timeout=10)
        assert r.status_code == 400, bad
        assert "latency_ms" in r.json()["error"]
