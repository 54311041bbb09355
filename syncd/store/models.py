"""SQLModel tables: the canonical contact store, cursors, runs, ledger, outbox and audit.

Every table carries `workspace` so that one database can later serve several HubSpot portals
and Mailchimp audiences. Schema changes go through Alembic migrations in `migrations/`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from syncd.store.types import JsonType, UTCDateTime, utcnow


def _ts(*, index: bool = False, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))


class RunStatus(enum.StrEnum):
    """Life of a sync run."""

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    HELD = "held"
    #: Stopped before it finished and closed by the next writer: killed, or lost its lease.
    INTERRUPTED = "interrupted"


class OutboxState(enum.StrEnum):
    """Life of one planned remote change."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    #: Planned for a target a guard holds: written only when a person releases the hold.
    HELD = "held"


class MembershipState(enum.StrEnum):
    """What syncd knows of one contact's membership of one owned target."""

    ADDED = "added"  # syncd added it and the remote confirmed
    REMOVED = "removed"  # syncd removed it and the remote confirmed
    DRIFT_REMOVED = "drift_removed"  # a person removed it by hand; not re-added until re-entry


class HoldStatus(enum.StrEnum):
    """Life of a hold on one target."""

    WAITING = "waiting"  # a person must decide
    RELEASED = "released"  # a person approved: its plan was applied
    REJECTED = "rejected"  # a person discarded its plan; the next run plans afresh
    CLEARED = "cleared"  # a later plan had nothing left to change on the target


class Contact(SQLModel, table=True):
    """One person: a HubSpot record and/or a Mailchimp member, found by their ids.

    Addresses are attributes, not keys (two records may share one). A row with neither id is a
    person who left both systems; it is kept so that their history stays readable.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_workspace_email", "workspace", "email"),
        Index("ix_contacts_workspace_hubspot_id", "workspace", "hubspot_id", unique=True),
        Index("ix_contacts_workspace_mailchimp_id", "workspace", "mailchimp_id", unique=True),
        Index("ix_contacts_workspace_mailchimp_email", "workspace", "mailchimp_email"),
        Index("ix_contacts_workspace_mailchimp_key", "workspace", "mailchimp_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    #: HubSpot's address while the profile has a HubSpot record, else the member's.
    email: str = Field(max_length=320)
    hubspot_id: str | None = Field(default=None, max_length=64)
    #: The member's subscriber hash (md5 of its own address).
    mailchimp_id: str | None = Field(default=None, max_length=64)
    #: The member's own address: Mailchimp is written at this one, never at HubSpot's.
    mailchimp_email: str | None = Field(default=None, max_length=320)
    #: The member's `contact_id`, which survives a change of address.
    mailchimp_key: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] = _json()
    created_at: datetime = _ts()
    updated_at: datetime = _ts(index=True)


class Cursor(SQLModel, table=True):
    """How far one stream of one connector has been pulled."""

    __tablename__ = "cursors"

    workspace: str = Field(primary_key=True, max_length=64)
    connector: str = Field(primary_key=True, max_length=32)
    stream: str = Field(primary_key=True, max_length=64)
    value: str | None = Field(default=None, max_length=256)
    updated_at: datetime = _ts()


class SyncRun(SQLModel, table=True):
    """One sync cycle: its trigger, status, timings and figures."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_workspace_started", "workspace", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    trigger: str = Field(max_length=16)  # schedule | manual | reconcile | undo
    status: str = Field(default=RunStatus.RUNNING, max_length=16, index=True)
    full: bool = False
    dry_run: bool = False
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    counts: dict[str, Any] = _json()
    api_calls: int = 0
    http_429: int = 0
    error_class: str | None = Field(default=None, max_length=16)
    error_message: str | None = None
    #: Why it failed or was interrupted: a `syncd.failures.Reason` (its advice is shown).
    reason_code: str | None = Field(default=None, max_length=32)
    #: The lease holder (`host/pid-N/token`) that ran it, so a crashed run can be recognised.
    holder: str | None = Field(default=None, max_length=128)


class RemoteTarget(SQLModel, table=True):
    """A list or tag syncd owns, with the remote id it was given (never re-found by name)."""

    __tablename__ = "remote_targets"
    __table_args__ = (UniqueConstraint("workspace", "target", name="uq_remote_targets"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    target: str = Field(max_length=128)  # e.g. "hubspot_list:trial-to-paid"
    remote_id: str = Field(max_length=64)
    name: str = Field(max_length=256)
    created_at: datetime = _ts()
    #: When a person was found to have deleted it (kept while `on_deleted_target: stop`).
    deleted_at: datetime | None = _ts(nullable=True)


class Membership(SQLModel, table=True):
    """The ownership ledger: memberships syncd wrote and the remote confirmed."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("workspace", "target", "contact_id", name="uq_memberships"),
        Index("ix_memberships_contact", "contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    target: str = Field(max_length=128)
    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    )
    state: str = Field(max_length=16)
    value: str | None = None  # for property targets: the value syncd last wrote
    run_id: int | None = Field(default=None, foreign_key="sync_runs.id")
    updated_at: datetime = _ts()


class OutboxEntry(SQLModel, table=True):
    """A planned remote change, written before any API call so a crash can resume it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_workspace_state", "workspace", "state"),
        Index("ix_outbox_run", "run_id"),
        # Apply pages through one target's rows of a run at a time.
        Index("ix_outbox_run_target", "run_id", "target", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    run_id: int = Field(foreign_key="sync_runs.id")
    target: str = Field(max_length=128)
    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    )
    action: str = Field(max_length=16)  # add | remove | set
    payload: dict[str, Any] = _json()
    reason: str | None = Field(default=None, max_length=256)
    state: str = Field(default=OutboxState.PENDING, max_length=16)
    attempts: int = 0
    last_error: str | None = None
    #: Why the last attempt failed, or why the row was cancelled: a `syncd.failures.Reason`.
    reason_code: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    """One change (or refusal, or drift) as an admin reads it in the change log."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_workspace_email_at", "workspace", "email", "at"),
        Index("ix_audit_workspace_segment_at", "workspace", "segment", "at"),
        Index("ix_audit_run", "run_id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    run_id: int | None = Field(default=None, foreign_key="sync_runs.id")
    at: datetime = _ts()
    contact_id: int | None = None
    email: str | None = Field(default=None, max_length=320)
    hubspot_id: str | None = Field(default=None, max_length=64)
    mailchimp_id: str | None = Field(default=None, max_length=64)
    segment: str | None = Field(default=None, max_length=128)
    target: str | None = Field(default=None, max_length=128)
    action: str = Field(max_length=16)  # add | remove | set | drift | reject | skip
    reason: str | None = Field(default=None, max_length=256)
    outcome: str = Field(max_length=16)  # applied | rejected | retry | skipped | detected
    error_class: str | None = Field(default=None, max_length=16)
    message: str | None = None
    #: Why it was not applied: a `syncd.failures.Reason` (its advice is shown); None if it was.
    reason_code: str | None = Field(default=None, max_length=32)
    #: For `set` events: the value written (what `syncd undo` restores a later run's set to).
    value: str | None = None


class Lease(SQLModel, table=True):
    """A named, expiring lock in the database, so two daemons never apply at once."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=128)  # empty once released
    #: Grows by one with every new holder; each fenced write is conditioned on it.
    fence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    acquired_at: datetime = _ts()
    expires_at: datetime = _ts()


class SegmentSnapshot(SQLModel, table=True):
    """One segment's figures at the end of one run: the history `segments report` charts."""

    __tablename__ = "segment_snapshots"
    __table_args__ = (
        Index("ix_segment_snapshots_workspace_segment_at", "workspace", "segment", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    run_id: int | None = Field(default=None, foreign_key="sync_runs.id")
    at: datetime = _ts()
    segment: str = Field(max_length=128)
    size: int = 0
    entered: int = 0
    exited: int = 0
    holdout_size: int = 0
    #: {"members"|"holdout": {kpi: {"n", "mean", "var"}}}: members written to targets and
    #: held-out members apart, so lift can be computed from any snapshot.
    kpis: dict[str, Any] = _json()


class SegmentStint(SQLModel, table=True):
    """One stay of one contact in one segment: when it entered, left, and met its success.

    Success tracking reads these: a member counts as a success when the segment's
    `success.when` held within `success.within` of `entered_at`. `held_out` marks members of
    the holdout, assigned to the segment but written to no target.
    """

    __tablename__ = "segment_stints"
    __table_args__ = (
        Index("ix_segment_stints_open", "workspace", "segment", "exited_at"),
        Index("ix_segment_stints_contact", "contact_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    segment: str = Field(max_length=128)
    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    )
    held_out: bool = False
    entered_at: datetime = _ts()
    exited_at: datetime | None = _ts(nullable=True)
    success_at: datetime | None = _ts(nullable=True)


class Hold(SQLModel, table=True):
    """A guard's hold on one target: its plan waits in the outbox until a person decides.

    One hold per target waits at a time. It stays on the run that first held it (`run_id`):
    later runs re-plan the target and replace that run's held outbox rows with their newer
    plan, so a hold never moves or stacks up while it waits.
    """

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_workspace_status", "workspace", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(default="default", max_length=64)
    target: str = Field(max_length=128)
    run_id: int = Field(foreign_key="sync_runs.id")
    #: The newest run that re-planned the target while the hold waited.
    planned_by_run: int | None = None
    reason: str = Field(max_length=512)
    status: str = Field(default=HoldStatus.WAITING, max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)
    #: Who decided: the OS user for the CLI, the console's user label.
    decided_by: str | None = Field(default=None, max_length=128)


class AlertSent(SQLModel, table=True):
    """The last time each distinct alert was delivered, so repeats can be suppressed."""

    __tablename__ = "alerts_sent"

    workspace: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=64)
    event: str = Field(max_length=32)
    sent_at: datetime = _ts()


class SegmentMemberSet(SQLModel, table=True):
    """Every segment's members at the last run, compressed, to count who entered and left.

    One row per segment (sorted contact ids, int64, zlib), so a run compares memberships of
    millions of contacts without a row per member; per-member stays are kept only where a
    segment measures something (`SegmentStint`).
    """

    __tablename__ = "segment_member_sets"

    workspace: str = Field(primary_key=True, max_length=64)
    segment: str = Field(primary_key=True, max_length=128)
    ids: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = _ts()
