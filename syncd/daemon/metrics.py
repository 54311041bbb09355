"""Prometheus metrics and the daemon's `/healthz` and `/metrics` HTTP endpoint.

The engine reports each finished run as one `RunFigures`; `Metrics.record` turns it into
counters and gauges on a registry of its own (not prometheus_client's global one), so two
daemons in one test process, or two tests, never share numbers. The HTTP server is the
standard library's `ThreadingHTTPServer` on a daemon thread, bound to loopback by default.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from syncd.errors import classify
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store.held import HealthFacts
from syncd.store.types import utcnow

log = get_logger(__name__)

#: Run statuses that mean a cycle completed; `partial` left rejects or retries behind, which
#: is reported in the changes, but the daemon itself is working.
COMPLETED = frozenset({"success", "partial"})


@dataclass(frozen=True)
class RunFigures:
    """What one sync run did, as the engine reports it to `Metrics.record`.

    Attributes:
        run_id: The `sync_runs` id, or None when the run failed before it had one.
        trigger: `schedule`, `reconcile`, `manual`, ...
        status: A `RunStatus` value: `success`, `partial`, `failed` or `held`.
        started_at: When the run started (aware UTC).
        finished_at: When it ended (aware UTC).
        changes: Count per (target, action, outcome), e.g.
            `("hubspot_list", "add", "applied") -> 120`.
        errors: Count per error class (`ErrorClass` values).
        api_calls: Calls made per API (`hubspot`, `mailchimp`).
        http_429: Rate-limit answers received per API.
    """

    run_id: int | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime
    changes: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    api_calls: Mapping[str, int] = field(default_factory=dict)
    http_429: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def failed(
        cls, trigger: str, started_at: datetime, finished_at: datetime, exc: BaseException
    ) -> RunFigures:
        """Figures for a run that raised instead of reporting, counted under its error class."""
        return cls(
            run_id=None,
            trigger=trigger,
            status="failed",
            started_at=started_at,
            finished_at=finished_at,
            errors={classify(exc).value: 1},
        )


class Metrics:
    """The daemon's counters, gauges and health state.

    `/healthz` answers 200 while the scheduler runs, with `ok` or `degraded` and the
    reasons (held targets, consecutive failures, no success for `staleness`), and 503 only
    when the daemon cannot work: scheduler stopped, or the store unreachable.

    Args:
        staleness: Degraded once the last completed run is older than this (a daemon that
            has not completed one yet gets this long from start-up).
        clock: Current time, injectable for tests.
        registry: Where the metrics live; a fresh registry by default.
        workspace: The label of the per-workspace gauges.
        facts: Reads holds, recent failures and the last success from the store; raising
            means the store is unreachable.
        max_failures: Degraded after this many failed runs in a row.
    """

    def __init__(
        self,
        *,
        staleness: timedelta,
        clock: Callable[[], datetime] = utcnow,
        registry: CollectorRegistry | None = None,
        workspace: str = "default",
        facts: Callable[[], HealthFacts] | None = None,
        max_failures: int = 3,
    ) -> None:
        self.workspace = workspace
        self._facts = facts
        self.max_failures = max_failures
        self.registry = registry if registry is not None else CollectorRegistry()
        self.staleness = staleness
        self._clock = clock
        self._lock = threading.Lock()
        self._running = False
        self._since = clock()
        self._last_success: datetime | None = None
        self._last_status: str | None = None
        r = self.registry
        self.runs = Counter(
            "syncd_runs",
            "Sync runs finished, by status and trigger",
            ["status", "trigger"],
            registry=r,
        )
        self.changes = Counter(
            "syncd_changes",
            "Membership and property changes, by target, action and outcome",
            ["target", "action", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "syncd_errors", "Errors by operator class", ["error_class"], registry=r
        )
        self.api_calls = Counter("syncd_api_calls", "API calls made", ["api"], registry=r)
        self.http_429 = Counter(
            "syncd_http_429", "Rate-limit (429) answers received", ["api"], registry=r
        )
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "Unix time the last run completed (success or partial)",
            ["workspace"],
            registry=r,
        )
        self.held_targets = Gauge(
            "syncd_held_targets",
            "Targets held by a safety guard, waiting for a person's decision",
            ["workspace"],
            registry=r,
        )
        self.last_duration = Gauge(
            "syncd_last_run_duration_seconds", "Wall time of the last run", registry=r
        )
        self.scheduler_up = Gauge(
            "syncd_scheduler_running", "1 while the scheduler runs, 0 otherwise", registry=r
        )

    def record(self, figures: RunFigures) -> None:
        """Count one finished run; called once per run, by the scheduler or the CLI."""
        self.runs.labels(status=figures.status, trigger=figures.trigger).inc()
        for (target, action, outcome), n in figures.changes.items():
            self.changes.labels(target=target, action=action, outcome=outcome).inc(n)
        for error_class, n in figures.errors.items():
            self.errors.labels(error_class=error_class).inc(n)
        for api, n in figures.api_calls.items():
            self.api_calls.labels(api=api).inc(n)
        for api, n in figures.http_429.items():
            self.http_429.labels(api=api).inc(n)
        duration = (figures.finished_at - figures.started_at).total_seconds()
        self.last_duration.set(max(duration, 0.0))
        with self._lock:
            self._last_status = figures.status
            if figures.status in COMPLETED:
                self._last_success = figures.finished_at
                self.last_success.labels(workspace=self.workspace).set(
                    figures.finished_at.timestamp()
                )

    def set_scheduler_running(self, running: bool) -> None:
        """Tell health checks whether the scheduler is up; staleness counts from start-up."""
        with self._lock:
            if running and not self._running:
                self._since = self._clock()
            self._running = running
        self.scheduler_up.set(1 if running else 0)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the daemon can work, and the JSON body `/healthz` answers with."""
        with self._lock:
            running, since = self._running, self._since
            last_success, last_status = self._last_success, self._last_status
        reasons: list[str] = []
        held: list[str] = []
        status = "ok"
        if self._facts is not None:
            try:
                facts = self._facts()
            except Exception as exc:  # noqa: BLE001 - any driver error means unreachable
                status = "unavailable"
                reasons.append(f"database unreachable ({type(exc).__name__})")
            else:
                held = facts.held_targets
                self.held_targets.labels(workspace=self.workspace).set(len(held))
                if facts.last_success_at and (
                    not last_success or facts.last_success_at > last_success
                ):
                    last_success = facts.last_success_at
                if held:
                    reasons.append(f"{len(held)} target(s) held for a decision: {', '.join(held)}")
                if facts.consecutive_failures >= self.max_failures:
                    reasons.append(f"{facts.consecutive_failures} failed runs in a row")
        if not running:
            status = "stopped"
            reasons.insert(0, "the scheduler is not running")
        elif status == "ok":
            reference = last_success or since
            if self._clock() - reference > self.staleness:
                reasons.append(f"no completed run for over {_human(self.staleness)}")
            status = "degraded" if reasons else "ok"
        body = {
            "status": status,
            "reasons": reasons,
            "last_success_at": last_success.isoformat() if last_success else None,
            "held_targets": held,
            "last_run_status": last_status,
        }
        return status in ("ok", "degraded"), body

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (the held-targets gauge read fresh)."""
        self.health()
        return generate_latest(self.registry)


def _human(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


class MetricsServer:
    """Serves `/healthz` and `/metrics` for one `Metrics` on a daemon thread.

    Args:
        metrics: What to serve.
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one (see `port` after `start`).
    """

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.host = host
        self._requested_port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; only valid after `start`."""
        if self._httpd is None:
            raise RuntimeError("metrics server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. `http://127.0.0.1:9464`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in the background; raises OSError when the port is taken."""
        server_cls = _Server6 if ":" in self.host else _Server
        self._httpd = server_cls((self.host, self._requested_port), _Handler)
        self._httpd.metrics = self.metrics
        # A short poll interval keeps `stop` (and so daemon shutdown) prompt.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="metrics-http", daemon=True
        )
        self._thread.start()
        log.info(Event.METRICS_LISTENING, url=self.url, paths=["/healthz", "/metrics"])

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    metrics: Metrics


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = "syncd"

    def do_GET(self) -> None:
        metrics = cast(_Server, self.server).metrics
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            ok, body = metrics.health()
            self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, metrics.exposition())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Scrapes every few seconds would drown the log at INFO.
        log.debug(Event.METRICS_REQUEST, request=format % args)
