"""Metrics over real HTTP: Prometheus counters after `record`, and `/healthz` states."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.daemon.metrics import Metrics, MetricsServer, RunFigures
from syncd.errors import ConfigError
from syncd.store.held import HealthFacts

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics(clock: Clock) -> Metrics:
    return Metrics(staleness=timedelta(minutes=30), clock=clock)


@pytest.fixture
def server(metrics: Metrics) -> Iterator[MetricsServer]:
    with MetricsServer(metrics, "127.0.0.1", 0) as srv:
        yield srv


def get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback http
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def samples(server: MetricsServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of `/metrics`, keyed by name and labels."""
    status, ctype, body = get(server.url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def figures(status: str = "success", **kw: object) -> RunFigures:
    base: dict[str, object] = {
        "run_id": 7,
        "trigger": "schedule",
        "status": status,
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=12.5),
    }
    base.update(kw)
    return RunFigures(**base)  # type: ignore[arg-type]


def test_port_zero_binds_a_free_port(server: MetricsServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_metrics_counters_move_after_record(server: MetricsServer, metrics: Metrics) -> None:
    before = samples(server)
    assert (
        "syncd_runs_total",
        frozenset({("status", "success"), ("trigger", "schedule")}),
    ) not in (before)
    metrics.record(
        figures(
            changes={
                ("hubspot_list", "add", "applied"): 120,
                ("mailchimp_tag", "remove", "rejected"): 2,
            },
            errors={"rejected": 2},
            api_calls={"hubspot": 40, "mailchimp": 9},
            http_429={"hubspot": 3},
        )
    )
    metrics.record(
        figures(changes={("hubspot_list", "add", "applied"): 5}, api_calls={"hubspot": 1})
    )
    after = samples(server)
    assert (
        after[("syncd_runs_total", frozenset({("status", "success"), ("trigger", "schedule")}))]
        == 2
    )
    key = frozenset({("target", "hubspot_list"), ("action", "add"), ("outcome", "applied")})
    assert after[("syncd_changes_total", key)] == 125
    rejected = frozenset(
        {("target", "mailchimp_tag"), ("action", "remove"), ("outcome", "rejected")}
    )
    assert after[("syncd_changes_total", rejected)] == 2
    assert after[("syncd_errors_total", frozenset({("error_class", "rejected")}))] == 2
    assert after[("syncd_api_calls_total", frozenset({("api", "hubspot")}))] == 41
    assert after[("syncd_api_calls_total", frozenset({("api", "mailchimp")}))] == 9
    assert after[("syncd_http_429_total", frozenset({("api", "hubspot")}))] == 3
    assert after[("syncd_last_run_duration_seconds", frozenset())] == 12.5
    last = (T0 + timedelta(seconds=12.5)).timestamp()
    assert (
        after[("syncd_last_success_timestamp_seconds", frozenset({("workspace", "default")}))]
        == last
    )


def test_failed_run_counts_error_class_and_keeps_last_success(
    server: MetricsServer, metrics: Metrics
) -> None:
    metrics.record(figures())
    failed = RunFigures.failed("reconcile", T0, T0 + timedelta(seconds=1), ConfigError("bad token"))
    metrics.record(failed)
    after = samples(server)
    assert (
        after[("syncd_runs_total", frozenset({("status", "failed"), ("trigger", "reconcile")}))]
        == 1
    )
    assert after[("syncd_errors_total", frozenset({("error_class", "config")}))] == 1
    assert (
        after[("syncd_last_success_timestamp_seconds", frozenset({("workspace", "default")}))]
        == (T0 + timedelta(seconds=12.5)).timestamp()
    )


def test_registries_are_independent(clock: Clock) -> None:
    a = Metrics(staleness=timedelta(minutes=1), clock=clock)
    b = Metrics(staleness=timedelta(minutes=1), clock=clock)
    a.record(figures())
    assert b"syncd_runs_total{" in a.exposition()
    assert b"syncd_runs_total{" not in b.exposition()


def test_healthz_is_503_while_the_scheduler_is_stopped(
    server: MetricsServer, metrics: Metrics
) -> None:
    metrics.record(figures())
    status, ctype, body = get(server.url + "/healthz")
    assert status == 503 and ctype == "application/json"
    assert json.loads(body)["status"] == "stopped"


def test_healthz_ok_then_stale(server: MetricsServer, metrics: Metrics, clock: Clock) -> None:
    metrics.set_scheduler_running(True)
    status, _, body = get(server.url + "/healthz")  # no run yet, but just started
    assert status == 200 and json.loads(body)["last_success_at"] is None
    metrics.record(figures(finished_at=T0 + timedelta(minutes=1)))
    clock.at = T0 + timedelta(minutes=31)
    status, _, body = get(server.url + "/healthz")
    assert status == 200
    assert json.loads(body) == {
        "status": "ok",
        "reasons": [],
        "last_success_at": "2026-01-01T12:01:00+00:00",
        "held_targets": [],
        "last_run_status": "success",
    }
    metrics.record(figures(status="failed"))  # failures do not refresh the last success
    clock.at = T0 + timedelta(minutes=31, seconds=1)
    status, _, body = get(server.url + "/healthz")
    # Degraded, not down: the daemon still works and a person should look.
    assert status == 200
    answer = json.loads(body)
    assert answer["status"] == "degraded" and answer["last_run_status"] == "failed"
    assert answer["reasons"] == ["no completed run for over 30m"]


def test_healthz_stale_when_no_run_completes_after_start(
    server: MetricsServer, metrics: Metrics, clock: Clock
) -> None:
    metrics.set_scheduler_running(True)
    clock.at = T0 + timedelta(minutes=31)
    status, _, body = get(server.url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "degraded"


def test_partial_run_counts_as_completed(metrics: Metrics, clock: Clock) -> None:
    metrics.set_scheduler_running(True)
    metrics.record(figures(status="partial", finished_at=T0 + timedelta(minutes=20)))
    clock.at = T0 + timedelta(minutes=45)
    ok, body = metrics.health()
    assert ok and body["last_run_status"] == "partial"


def test_unknown_path_is_404(server: MetricsServer) -> None:
    assert get(server.url + "/nope")[0] == 404


def test_stop_closes_the_port(metrics: Metrics) -> None:
    srv = MetricsServer(metrics, "127.0.0.1", 0)
    srv.start()
    url = srv.url
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=5)  # noqa: S310 - loopback http


def test_healthz_tells_held_targets_failures_and_an_unreachable_store(clock: Clock) -> None:
    facts = HealthFacts(["hubspot_list:vip"], 3, T0)

    def read() -> HealthFacts:
        if facts is None:
            raise OSError("connection refused")
        return facts

    metrics = Metrics(staleness=timedelta(minutes=30), clock=clock, facts=read)
    metrics.set_scheduler_running(True)
    ok, body = metrics.health()
    assert ok and body["status"] == "degraded"
    assert body["held_targets"] == ["hubspot_list:vip"]
    assert body["reasons"] == [
        "1 target(s) held for a decision: hubspot_list:vip",
        "3 failed runs in a row",
    ]
    assert body["last_success_at"] == T0.isoformat()
    exposed = metrics.exposition().decode()
    assert 'syncd_held_targets{workspace="default"} 1.0' in exposed
    facts = None  # type: ignore[assignment]
    ok, body = metrics.health()
    assert not ok and body["status"] == "unavailable"
    assert body["reasons"] == ["database unreachable (OSError)"]
