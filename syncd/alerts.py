"""Alerts: a JSON POST to each configured webhook when a run needs a person's attention.

Events: `run.held` (a guard held new targets), `run.failed`, `run.partial`, `run.recovered`
(the first success after failures) and `hold.decided`. The body carries a one-line `text`,
so a Slack or Teams incoming webhook shows it as is.

Alerts never block or fail a sync: each is delivered on its own thread with a few retries,
and every attempt is logged with the URL's host only (the path of a Slack or Teams webhook
is its secret). An alert identical to one delivered within `alerts.repeat_after` is
suppressed; the `alerts_sent` table remembers what went out, across processes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from sqlalchemy import Engine, select
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from syncd.config import AlertSettings
from syncd.engine.holds import WaitingHold
from syncd.engine.run_record import RunResult
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store.lease import Clock
from syncd.store.models import AlertSent, RunStatus, SyncRun
from syncd.store.types import table_of

log = get_logger(__name__)

#: Seconds one POST may take; a slow receiver must not hold a daemon's thread for long.
POST_TIMEOUT_S = 10.0
#: Attempts per webhook and alert.
ATTEMPTS = 3


@dataclass(frozen=True)
class Alert:
    """One alert, as POSTed (see `body`)."""

    event: str
    workspace: str
    run_id: int | None
    status: str
    targets: list[str]
    summary: dict[str, Any]
    text: str
    console_url: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body: the same keys for every event."""
        return {
            "event": self.event,
            "workspace": self.workspace,
            "run_id": self.run_id,
            "status": self.status,
            "targets": self.targets,
            "summary": self.summary,
            "text": self.text,
            "console_url": self.console_url,
        }

    def key(self) -> str:
        """What makes two alerts identical: event, status, targets and the error, not the run."""
        error = str(self.summary.get("error") or "")
        raw = "|".join([self.event, self.workspace, self.status, ",".join(self.targets), error])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def run_alerts(
    result: RunResult, workspace: str, previous: str | None, console_url: str | None
) -> list[Alert]:
    """The alerts one finished run raises (none for an ordinary success).

    Args:
        result: The run.
        workspace: Its workspace.
        previous: The status of the run before it when that run was in trouble (failed,
            interrupted, or partial through an error), to tell a recovery; None otherwise.
        console_url: The console's base address, for links.
    """
    link = f"{console_url.rstrip('/')}/runs/{result.run_id}" if console_url else None
    run = f"run {result.run_id}"
    status = str(result.status)
    totals = result.counts.totals()
    summary: dict[str, Any] = {
        "added": totals["added"],
        "removed": totals["removed"],
        "set": totals["set"],
        "rejected": totals["rejected"],
        "error": result.error,
        "held": dict(result.counts.held),
        "waiting": dict(result.counts.waiting),
    }
    alerts = []
    new = sorted(result.counts.held)
    if new:
        text = (
            f"syncd [{workspace}]: {run} holds {', '.join(new)} for review "
            f"(a safety guard tripped); `syncd plan --run {result.run_id}`"
        )
        alerts.append(Alert("run.held", workspace, result.run_id, status, new, summary, text, link))
    targets = sorted(result.counts.targets)
    if result.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        text = f"syncd [{workspace}]: {run} {status}: {result.error or 'see the run'}"
        event = "run.failed"
        alerts.append(Alert(event, workspace, result.run_id, status, targets, summary, text, link))
    elif result.status is RunStatus.PARTIAL and (result.error or totals["rejected"]):
        why = result.error or f"{totals['rejected']} changes rejected"
        text = f"syncd [{workspace}]: {run} partly applied: {why}"
        event = "run.partial"
        alerts.append(Alert(event, workspace, result.run_id, status, targets, summary, text, link))
    elif result.status is RunStatus.SUCCESS and previous is not None:
        text = f"syncd [{workspace}]: {run} succeeded again after a {previous} run"
        event = "run.recovered"
        alerts.append(Alert(event, workspace, result.run_id, status, targets, summary, text, link))
    return alerts


def decision_alert(
    holds: Sequence[WaitingHold], decision: str, by: str, workspace: str, console_url: str | None
) -> Alert:
    """The `hold.decided` alert for one decision on one or more held targets."""
    targets = sorted(h.target for h in holds)
    run_id = holds[0].run_id if holds else None
    link = f"{console_url.rstrip('/')}/runs/{run_id}" if console_url and run_id else None
    text = f"syncd [{workspace}]: {', '.join(targets)} of run {run_id} {decision} by {by}"
    summary = {"decision": decision, "by": by}
    return Alert("hold.decided", workspace, run_id, decision, targets, summary, text, link)


@dataclass
class Notifier:
    """Delivers alerts to the configured webhooks in the background.

    Args:
        db: The store (for the status of the previous run and the suppression table).
        workspace: Whose runs.
        settings: `alerts` from the configuration.
        clock: For suppression windows.
    """

    db: Engine
    workspace: str
    settings: AlertSettings
    clock: Clock
    _threads: list[threading.Thread] = field(default_factory=list)

    def run_finished(self, result: RunResult) -> None:
        """Called by the engine after every run row is closed."""
        if not self.settings.webhooks or result.run_id is None:
            return
        previous = self._previous_status(result.run_id)
        url = self.settings.console_url
        self.send(run_alerts(result, self.workspace, previous, url))

    def hold_decided(self, holds: Sequence[WaitingHold], decision: str, by: str) -> None:
        """Called by the engine after a person released or rejected holds."""
        if self.settings.webhooks and holds:
            url = self.settings.console_url
            self.send([decision_alert(holds, decision, by, self.workspace, url)])

    def send(self, alerts: Sequence[Alert]) -> None:
        """Deliver each alert not sent within `repeat_after`, on a background thread."""
        due = [a for a in alerts if not self._suppressed(a)]
        if not due:
            return
        thread = threading.Thread(target=self._deliver, args=(due,), name="alerts", daemon=True)
        self._threads.append(thread)
        thread.start()

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait (bounded) for deliveries in progress; a command calls it before exiting."""
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _previous_status(self, run_id: int) -> str | None:
        """The status of the run before `run_id` if it was in trouble, else None."""
        runs = table_of(SyncRun).c
        with self.db.connect() as conn:
            row = conn.execute(
                select(runs.status, runs.error_class)
                .where(
                    runs.workspace == self.workspace,
                    runs.id < run_id,
                    runs.trigger != "undo",
                )
                .order_by(runs.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        status, error_class = str(row[0]), row[1]
        failed = status in (RunStatus.FAILED, RunStatus.INTERRUPTED)
        troubled = failed or (status == RunStatus.PARTIAL and error_class is not None)
        return status if troubled else None

    def _suppressed(self, alert: Alert) -> bool:
        sent = table_of(AlertSent).c
        with self.db.connect() as conn:
            at: datetime | None = conn.execute(
                select(sent.sent_at).where(
                    sent.workspace == self.workspace, sent.key == alert.key()
                )
            ).scalar_one_or_none()
        if at is not None and self.clock() - at < self.settings.repeat_after:
            log.info(Event.ALERT_SUPPRESSED, alert=alert.event, run_id=alert.run_id)
            return True
        return False

    def _deliver(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            delivered = False
            for url in self.settings.webhooks:
                delivered = _post(url.get_secret_value(), alert) or delivered
            if delivered:
                self._remember(alert)

    def _remember(self, alert: Alert) -> None:
        table = table_of(AlertSent)
        sent = table.c
        now = self.clock()
        where = (sent.workspace == self.workspace, sent.key == alert.key())
        with self.db.begin() as conn:
            updated = conn.execute(
                table.update().where(*where).values(sent_at=now, event=alert.event)
            ).rowcount
            if not updated:
                conn.execute(
                    table.insert().values(
                        workspace=self.workspace, key=alert.key(), event=alert.event, sent_at=now
                    )
                )


def deliver_now(hooks: Sequence[SecretStr], alert: Alert) -> list[tuple[str, bool]]:
    """Send `alert` to each webhook now (no suppression): `(host, delivered)` per webhook."""
    out = []
    for hook in hooks:
        url = hook.get_secret_value()
        out.append((urlsplit(url).hostname or "?", _post(url, alert)))
    return out


def _post(url: str, alert: Alert) -> bool:
    """POST one alert with retries; True once a receiver accepted it. Logs the host only."""
    host = urlsplit(url).hostname or "?"
    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=5),
        retry=retry_if_exception_type(requests.RequestException),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                n = attempt.retry_state.attempt_number
                try:
                    resp = requests.post(url, json=alert.body(), timeout=POST_TIMEOUT_S)
                    resp.raise_for_status()
                except requests.RequestException as exc:
                    code = exc.response.status_code if exc.response is not None else None
                    log.warning(
                        Event.ALERT_FAILED, alert=alert.event, host=host, attempt=n, status=code
                    )
                    raise
                log.info(Event.ALERT_SENT, alert=alert.event, host=host, attempt=n)
    except requests.RequestException:
        return False
    return True
