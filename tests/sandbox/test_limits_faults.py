"""Rate limits (fake clock, no sleeps), Mailchimp's concurrency cap, fault injection, stats."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from hubspot.crm.contacts import ApiException
from mailchimp_marketing.api_client import ApiClientError
from sandbox_clients import hubspot, mailchimp

from syncd.sandbox import FaultConfig, Limits, Sandbox
from tests.support.sandboxes import start_sandbox


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _hs(sb: Sandbox, path: str = "/crm/v3/objects/contacts") -> requests.Response:
    return requests.get(
        f"{sb.hubspot_url}{path}",
        headers={"Authorization": f"Bearer {sb.hubspot_token}"},
        timeout=10,
    )


def test_hubspot_rolling_window_429_with_headers() -> None:
    clock = FakeClock()
    with Sandbox(contacts=20, seed=1, limits=Limits(hubspot_per_10s=5, clock=clock)) as sb:
        api = hubspot(sb).crm.contacts.basic_api
        remaining = []
        for _ in range(5):
            _, _, headers = api.get_page_with_http_info(limit=1)
            remaining.append(int(headers["X-HubSpot-RateLimit-Remaining"]))
            assert headers["X-HubSpot-RateLimit-Max"] == "5"
            assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            assert "X-HubSpot-RateLimit-Daily-Remaining" in headers
        assert remaining == [4, 3, 2, 1, 0]
        with pytest.raises(ApiException) as err:
            api.get_page(limit=1)
        assert err.value.status == 429
        body = json.loads(err.value.body)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["errorType"] == "RATE_LIMIT"
        assert err.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        clock.now += 9.9  # still inside the window
        assert _hs(sb).status_code == 429
        clock.now += 0.2  # the first five calls have left the window
        assert _hs(sb).status_code == 200
        assert sb.stats()["hubspot"]["http_429"] == 2


def test_search_limit_has_no_rate_headers() -> None:
    clock = FakeClock()
    limits = Limits.relaxed(hubspot_search_per_s=5, clock=clock)
    with Sandbox(contacts=20, seed=1, limits=limits) as sb:
        search = hubspot(sb).crm.contacts.search_api
        for _ in range(5):
            _, _, headers = search.do_search_with_http_info({"limit": 1})
            assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in headers)
        with pytest.raises(ApiException) as err:
            search.do_search({"limit": 1})
        assert err.value.status == 429
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in err.value.headers)
        clock.now += 1.01
        assert search.do_search({"limit": 1}).total == 20


def test_mailchimp_eleventh_concurrent_request_gets_429() -> None:
    with Sandbox(contacts=20, seed=1) as sb:  # default limits: 10 connections
        statuses: list[int] = []
        url = f"{sb.mailchimp_url}/ping"

        def call() -> None:
            statuses.append(requests.get(url, auth=("x", sb.mailchimp_key), timeout=30).status_code)

        with sb.hold("mailchimp"):
            threads = [threading.Thread(target=call) for _ in range(10)]
            for t in threads:
                t.start()
            assert sb.limits.mailchimp.wait_for_inflight(10, timeout=20)
            mc = mailchimp(sb)
            with pytest.raises(ApiClientError) as err:
                mc.ping.get()
            assert err.value.status_code == 429
        for t in threads:
            t.join()
        assert statuses == [200] * 10
        assert mailchimp(sb).ping.get()["health_status"]


def _statuses(sb: Sandbox, n: int) -> list[int]:
    out = []
    s = requests.Session()
    for _ in range(n):
        try:
            out.append(
                s.get(
                    f"{sb.hubspot_url}/crm/v3/objects/contacts?limit=1",
                    headers={"Authorization": f"Bearer {sb.hubspot_token}"},
                    timeout=10,
                ).status_code
            )
        except requests.ConnectionError:
            out.append(-1)
            s = requests.Session()
    return out


def test_faults_are_reproducible_by_seed() -> None:
    config = {"hubspot": {"429": 0.1, "500": 0.1, "503": 0.1, "reset": 0.1}, "seed": 42}
    with start_sandbox(20, seed=1) as sb:
        r = requests.post(f"{sb.base_url}/_sandbox/faults", json=config, timeout=10)
        assert r.status_code == 200
        first = _statuses(sb, 60)
        sb.set_faults(config)
        second = _statuses(sb, 60)
        sb.set_faults({**config, "seed": 43})
        third = _statuses(sb, 60)
    assert first == second
    assert first != third
    assert {429, 500, 503, -1, 200} <= set(first)
    stats = sb.stats()["hubspot"]
    assert stats["faults"] == sum(1 for s in first + second + third if s != 200)


def test_timeout_truncated_and_non_json_faults() -> None:
    with start_sandbox(20, seed=1) as sb:
        sb.set_faults(FaultConfig(mailchimp={"timeout": 1.0}, timeout_s=5.0))
        with pytest.raises(requests.ReadTimeout):
            requests.get(f"{sb.mailchimp_url}/ping", auth=("x", sb.mailchimp_key), timeout=0.3)
        sb.set_faults(FaultConfig(hubspot={"truncated": 1.0}))
        with pytest.raises(requests.exceptions.RequestException):
            _hs(sb).json()
        sb.set_faults(FaultConfig(hubspot={"non_json": 1.0}))
        r = _hs(sb)
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
        with pytest.raises(ValueError, match="Expecting value"):
            r.json()
        sb.set_faults(None)
        assert _hs(sb).status_code == 200
        kinds = sb.stats()["hubspot"]["fault_kinds"]
        assert kinds == {"truncated": 1, "non_json": 1}


def test_bad_fault_config_is_refused(sb: Sandbox) -> None:
    r = requests.post(f"{sb.base_url}/_sandbox/faults", json={"hubspot": {"418": 0.5}}, timeout=10)
    assert r.status_code == 400


def test_stats_count_reads_writes_and_person_edits(fresh: Sandbox) -> None:
    client = hubspot(fresh)
    client.crm.contacts.search_api.do_search({"limit": 1})
    client.crm.contacts.batch_api.read({"inputs": [{"id": "1"}], "properties": []})
    client.crm.contacts.basic_api.update("2", {"properties": {"plan": "free"}})
    r = requests.patch(
        f"{fresh.hubspot_url}/crm/v3/objects/contacts/3",
        json={"properties": {"plan": "free"}},
        headers={"Authorization": f"Bearer {fresh.hubspot_token}", "X-Sandbox-Actor": "person"},
        timeout=10,
    )
    assert r.status_code == 200
    stats = requests.get(f"{fresh.base_url}/_sandbox/stats", timeout=10).json()
    assert stats["hubspot"]["writes"] == 1
    assert stats["hubspot"]["reads"] == 2
    assert stats["person_edits"] == 1
    assert stats["hubspot"]["endpoints"]["PATCH /crm/v3/objects/{objectType}/{objectId}"] == 1


def test_reset_over_http_regenerates(fresh: Sandbox) -> None:
    hubspot(fresh).crm.contacts.basic_api.update("2", {"properties": {"plan": "free"}})
    r = requests.post(
        f"{fresh.base_url}/_sandbox/reset", json={"contacts": 50, "seed": 5}, timeout=30
    )
    assert r.status_code == 200 and r.json()["contacts"] == 50
    assert len(fresh.hubspot.contacts) == 50
    assert fresh.stats()["requests"] == 0
