"""The names of syncd's log events: one place to find every event a log line can carry.

Every log call passes one of these as its event and puts the details in key=value fields, so
lines stay greppable and machine-readable (`ruff`'s `G` rules refuse f-strings in log calls).
The names are `<area>.<what happened>`.
"""

from __future__ import annotations

import enum


class Event(enum.StrEnum):
    """A log event name."""

    # One sync run (the canonical line is RUN_FINISHED).
    RUN_FINISHED = "run.finished"
    RUN_FAILED = "run.failed"
    RUN_HELD = "run.held"
    RUN_INTERRUPTED = "run.interrupted"
    RUN_RECOVERED = "run.recovered"
    RUN_RELEASED = "run.released"
    RUN_UNDO = "run.undo"
    HOLD_WAITING = "hold.waiting"
    HOLD_DECIDED = "hold.decided"
    PULL_SOURCE_FAILED = "pull.source_failed"
    ALERT_SENT = "alert.sent"
    ALERT_FAILED = "alert.failed"
    ALERT_SUPPRESSED = "alert.suppressed"
    UNDO_PLANNED = "undo.planned"
    # Its phases.
    PULL_DONE = "pull.done"
    PULL_REJECTED = "pull.rejected"
    PULL_DEPARTED = "pull.departed"
    PULL_SWEEP_SKIPPED = "pull.sweep_skipped"
    STORE_ANALYZE_FAILED = "store.analyze_failed"
    STORE_VACUUM_FAILED = "store.vacuum_failed"
    CONTACT_MERGED = "pull.contact_merged"
    DRIFT_DETECTED = "drift.detected"
    TARGET_DELETED = "target.deleted"
    APPLY_API_FAILED = "apply.api_failed"
    APPLY_BATCH_PARTIAL = "apply.batch_partial"
    APPLY_NO_WRITER = "apply.no_writer"
    APPLY_TARGET_RECREATED = "apply.target_recreated"
    RETENTION_PRUNED = "retention.pruned"
    # Talking to the vendors.
    HTTP_RETRY = "http.retry"
    HTTP_CREATE_FOUND = "http.create_found"
    HUBSPOT_LIST_GONE = "hubspot.list_gone"
    HUBSPOT_SEARCH_REANCHOR = "hubspot.search_reanchor"
    HUBSPOT_PULL_METHOD = "hubspot.pull_method"
    HUBSPOT_SPLIT_ABANDONED = "hubspot.split_abandoned"
    HUBSPOT_SPLIT_READ = "hubspot.split_read"
    HUBSPOT_RELATED_CAPPED = "hubspot.related_capped"
    MAILCHIMP_TAG_GONE = "mailchimp.tag_gone"
    # The apply lease.
    LEASE_ACQUIRED = "lease.acquired"
    LEASE_WAITING = "lease.waiting"
    LEASE_RELEASED = "lease.released"
    LEASE_RELEASE_FAILED = "lease.release_failed"
    LEASE_RENEWAL_FAILED = "lease.renewal_failed"
    LEASE_LOST = "lease.lost"
    LEASE_TAKEN_OVER = "lease.taken_over"
    LEASE_DATABASE_BUSY = "lease.database_busy"
    # The daemon and its endpoints.
    DAEMON_STARTED = "daemon.started"
    DAEMON_STOPPED = "daemon.stopped"
    DAEMON_SIGNAL = "daemon.signal"
    DAEMON_RUN_SKIPPED = "daemon.run_skipped"
    METRICS_LISTENING = "metrics.listening"
    METRICS_REQUEST = "metrics.request"
    UI_SERVING = "ui.serving"
