"""Undo: the changes that revert what one run did to lists, tags and properties.

`syncd undo --run ID` turns this into an ordinary run (trigger `undo`) whose plan is these
changes, so undo goes through the outbox, the guards and apply like every other write, and is
audited like them (each change's reason is "undo of run N").

What a run did is read from its applied audit events. A change is reverted only while it is
still the last word on that membership: if a later run (including an earlier undo) changed the
same contact on the same target, or a person did (the ledger no longer says what the run left),
the membership is left alone. Undo obeys the same rules as the planner: it never tags a
Mailchimp member who has not consented, and only touches contacts present in the target system.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from syncd.engine.plan import Action, Change, Ledger, properties_value
from syncd.engine.profiles.read import STATUS_KEY
from syncd.errors import ConfigError
from syncd.events import Event
from syncd.logs import get_logger
from syncd.store.models import (
    AuditEvent,
    Contact,
    MembershipState,
    OutboxEntry,
    OutboxState,
    RunStatus,
    SyncRun,
)
from syncd.store.types import table_of
from syncd.targets import CONSENTING_STATUSES, TargetKind, TargetRef

log = get_logger(__name__)

_CHUNK = 1000
_WRITES = ("add", "remove", "set")


@dataclass(frozen=True, slots=True)
class _Applied:
    """The last applied write of the run on one (target, contact)."""

    event_id: int
    target: str
    contact_id: int
    email: str | None
    action: str
    value: str | None


def undo_changes(conn: Connection, workspace: str, run_id: int, ledger: Ledger) -> list[Change]:
    """The changes that revert run `run_id`, each with the reason "undo of run N".

    Args:
        conn: A connection to the store (read only here).
        workspace: Whose run.
        run_id: The run to revert.
        ledger: The current ownership ledger (`target -> contact id -> entry`).

    Returns:
        A `remove` for each applied add the ledger still shows as added, an `add` for each
        applied remove it still shows as removed, and a `set` back to the previous value
        (syncd's empty value when there was none) for each applied property set, ordered by
        target and contact.

    Raises:
        ConfigError: No such run in the workspace, the run is still running, or nothing it
            changed can be reverted.
    """
    _check_run(conn, workspace, run_id)
    applied = _applied(conn, workspace, run_id)
    if not applied:
        raise ConfigError(f"run {run_id} applied no changes; there is nothing to undo")
    later = _changed_later(conn, workspace, run_id)
    contacts = _contacts(conn, workspace, {a.contact_id for a in applied})
    previous = _previous_values(conn, workspace, [a for a in applied if a.action == "set"])
    reason = f"undo of run {run_id}"
    changes: list[Change] = []
    skipped = {"changed_since": 0, "not_in_system": 0, "consent": 0, "unknown_value": 0}
    for item in applied:
        key = (item.target, item.contact_id)
        entry = ledger.get(item.target, {}).get(item.contact_id)
        contact = contacts.get(item.contact_id)
        if key in later or entry is None or contact is None:
            skipped["changed_since"] += 1
            continue
        ref = TargetRef.parse(item.target)
        if not _in_system(ref, contact):
            skipped["not_in_system"] += 1
        elif item.action == "set":
            # No earlier set: before this run syncd's properties were empty.
            value = previous.get(key, properties_value([], None))
            if value is None:
                skipped["unknown_value"] += 1
            else:
                changes.append(Change(item.target, item.contact_id, Action.SET, reason, value))
        elif item.action == "add" and entry.state == MembershipState.ADDED:
            changes.append(Change(item.target, item.contact_id, Action.REMOVE, reason))
        elif item.action == "remove" and entry.state == MembershipState.REMOVED:
            if ref.kind is TargetKind.MAILCHIMP_TAG and not _consents(contact):
                skipped["consent"] += 1
            else:
                changes.append(Change(item.target, item.contact_id, Action.ADD, reason))
        else:
            skipped["changed_since"] += 1
    log.info(Event.UNDO_PLANNED, run_id=run_id, changes=len(changes), **skipped)
    if not changes:
        raise ConfigError(
            f"nothing of run {run_id} can be undone: every change it made was changed since "
            f"({skipped['changed_since']}) or is out of reach "
            f"({sum(skipped.values()) - skipped['changed_since']})"
        )
    return sorted(changes, key=lambda c: (c.target, c.contact_id, str(c.action)))


def _check_run(conn: Connection, workspace: str, run_id: int) -> None:
    r = table_of(SyncRun).c
    status = conn.execute(
        select(r.status).where(r.id == run_id, r.workspace == workspace)
    ).scalar_one_or_none()
    if status is None:
        raise ConfigError(f"no run {run_id} in workspace {workspace}", hint="see `syncd runs`")
    if status == RunStatus.RUNNING:
        raise ConfigError(f"run {run_id} is still running; undo it once it has finished")


def _applied(conn: Connection, workspace: str, run_id: int) -> list[_Applied]:
    """The run's applied writes, the last one per (target, contact) winning."""
    a = table_of(AuditEvent).c
    rows = conn.execute(
        select(a.id, a.target, a.contact_id, a.email, a.action, a.value)
        .where(
            a.run_id == run_id,
            a.workspace == workspace,
            a.outcome == "applied",
            a.action.in_(_WRITES),
            a.target.is_not(None),
            a.contact_id.is_not(None),
        )
        .order_by(a.id)
    )
    last: dict[tuple[str, int], _Applied] = {}
    for row in rows:
        last[(row.target, row.contact_id)] = _Applied(
            row.id, row.target, row.contact_id, row.email, row.action, row.value
        )
    return list(last.values())


def _changed_later(conn: Connection, workspace: str, run_id: int) -> set[tuple[str, int]]:
    """(target, contact) pairs that a later run wrote (applied) after `run_id`."""
    a = table_of(AuditEvent).c
    rows = conn.execute(
        select(a.target, a.contact_id).where(
            a.run_id > run_id,
            a.workspace == workspace,
            a.outcome == "applied",
            a.action.in_(_WRITES),
        )
    )
    return {(t, c) for t, c in rows}


def _contacts(conn: Connection, workspace: str, ids: Iterable[int]) -> dict[int, Mapping[str, Any]]:
    c = table_of(Contact).c
    id_list = sorted(ids)
    out: dict[int, Mapping[str, Any]] = {}
    for start in range(0, len(id_list), _CHUNK):
        rows = conn.execute(
            select(c.id, c.hubspot_id, c.mailchimp_id, c.attributes).where(
                c.workspace == workspace, c.id.in_(id_list[start : start + _CHUNK])
            )
        ).mappings()
        out.update({row["id"]: row for row in rows})
    return out


def _in_system(ref: TargetRef, contact: Mapping[str, Any]) -> bool:
    if ref.kind is TargetKind.MAILCHIMP_TAG:
        return contact["mailchimp_id"] is not None
    return contact["hubspot_id"] is not None


def _consents(contact: Mapping[str, Any]) -> bool:
    status = ((contact["attributes"] or {}).get("mailchimp") or {}).get(STATUS_KEY)
    return status in CONSENTING_STATUSES


def _previous_values(
    conn: Connection, workspace: str, sets: Sequence[_Applied]
) -> dict[tuple[str, int], str | None]:
    """For each set of the run, the value the last earlier applied set wrote.

    Absent: there was no earlier set. None: there was, but its value is no longer known.
    Looked up by email, so the `(workspace, email, at)` index answers it. Events written
    before audit rows carried `value` fall back to their run's outbox row.
    """
    a = table_of(AuditEvent).c
    wanted = {(s.target, s.contact_id): s.event_id for s in sets}
    emails = sorted({s.email for s in sets if s.email})
    found: dict[tuple[str, int], tuple[int, int | None, str | None]] = {}
    for start in range(0, len(emails), _CHUNK):
        rows = conn.execute(
            select(a.id, a.run_id, a.target, a.contact_id, a.value).where(
                a.workspace == workspace,
                a.email.in_(emails[start : start + _CHUNK]),
                a.action == "set",
                a.outcome == "applied",
            )
        )
        for row in rows:
            key = (row.target, row.contact_id)
            before = wanted.get(key)
            if before is None or row.id >= before:
                continue
            if key not in found or row.id > found[key][0]:
                found[key] = (row.id, row.run_id, row.value)
    out: dict[tuple[str, int], str | None] = {}
    for key, (_, prior_run, value) in found.items():
        if value is None and prior_run is not None:
            value = _outbox_value(conn, workspace, prior_run, *key)
        out[key] = value
    return out


def _outbox_value(
    conn: Connection, workspace: str, run_id: int, target: str, contact_id: int
) -> str | None:
    o = table_of(OutboxEntry).c
    payload = conn.execute(
        select(o.payload)
        .where(
            o.run_id == run_id,
            o.workspace == workspace,
            o.target == target,
            o.contact_id == contact_id,
            o.action == "set",
            o.state == OutboxState.DONE,
        )
        .order_by(o.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    value = (payload or {}).get("value")
    return value if isinstance(value, str) else None
