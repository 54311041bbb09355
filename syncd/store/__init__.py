"""The store: SQLModel tables, engines and sessions, Alembic migrations."""

from syncd.store.db import (
    check_migrated,
    current_revision,
    head_revision,
    make_engine,
    open_store,
    safe_url,
    session_scope,
    upgrade,
)
from syncd.store.models import (
    AuditEvent,
    Contact,
    Cursor,
    Lease,
    Membership,
    MembershipState,
    OutboxEntry,
    OutboxState,
    RemoteTarget,
    RunStatus,
    SyncRun,
)

__all__ = [
    "AuditEvent",
    "Contact",
    "Cursor",
    "Lease",
    "Membership",
    "MembershipState",
    "OutboxEntry",
    "OutboxState",
    "RemoteTarget",
    "RunStatus",
    "SyncRun",
    "check_migrated",
    "current_revision",
    "head_revision",
    "make_engine",
    "open_store",
    "safe_url",
    "session_scope",
    "upgrade",
]
