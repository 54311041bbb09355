"""An owned list or tag that a person deleted: recorded, its ledger closed, then recreated or left.

Found when reconcile reads the target's members and the vendor answers 404. What syncd does is
the `on_deleted_target` setting:
- `recreate` (default): the stored remote id is forgotten, so this run's apply makes the list
  or tag again by name and adds every contact of the segment to it (the ledger rows were
  closed, so they are planned again);
- `stop`: the target is marked deleted and left alone: no changes are planned for it and it is
  not made again until the setting changes or the segment's target is removed.
Either way the other targets go on, the run row carries the reason code (`target_deleted` or
`target_deleted_kept`) and the audit log has one `drift` event for the target.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine, delete, select, update

from syncd.engine.closing import close_memberships
from syncd.engine.plan import SegmentTargets
from syncd.events import Event
from syncd.failures import ErrorClass, Reason
from syncd.logs import get_logger
from syncd.store.lease import UNFENCED, Fence, fenced
from syncd.store.models import AuditEvent, RemoteTarget, RunStatus
from syncd.store.types import table_of
from syncd.targets import TargetKind, TargetRef

if TYPE_CHECKING:  # the run record imports the apply step, which records deleted targets
    from syncd.engine.run_record import RunResult

OnDeleted = Literal["recreate", "stop"]
#: The drift figures a deleted target is counted under (recreated, or left deleted).
DELETED = "deleted_by_hand"
DELETED_KEPT = "deleted_kept"
log = get_logger(__name__)
_WHAT = {TargetKind.HUBSPOT_LIST: "HubSpot list", TargetKind.MAILCHIMP_TAG: "Mailchimp tag"}


def record_deleted(
    db: Engine,
    workspace: str,
    run_id: int,
    ref: TargetRef,
    remote_id: str,
    mode: OnDeleted,
    *,
    now: datetime,
    fence: Fence = UNFENCED,
) -> None:
    """Close the target's ledger, write the audit event, and forget or mark its remote id."""
    what = f"{_WHAT.get(ref.kind, ref.kind)} {ref.remote_name!r} (id {remote_id})"
    code = Reason.TARGET_DELETED if mode == "recreate" else Reason.TARGET_DELETED_KEPT
    then = "recreated with its members" if mode == "recreate" else "left deleted"
    rt = table_of(RemoteTarget)
    with fenced(db, fence) as conn:
        close_memberships(
            conn,
            workspace,
            target=ref.key,
            reason=f"{what} deleted by a person",
            code=code,
            run_id=run_id,
            now=now,
        )
        conn.execute(
            table_of(AuditEvent).insert(),
            [
                {
                    "workspace": workspace,
                    "run_id": run_id,
                    "at": now,
                    "segment": ref.name,
                    "target": ref.key,
                    "action": "drift",
                    "reason": f"{what} was deleted by a person; {then}",
                    "outcome": "detected",
                    "error_class": ErrorClass.TRANSIENT,
                    "message": f"{what} no longer exists",
                    "reason_code": code,
                }
            ],
        )
        where = (rt.c.workspace == workspace, rt.c.target == ref.key)
        if mode == "recreate":
            conn.execute(delete(rt).where(*where))
        else:
            conn.execute(update(rt).where(*where).values(deleted_at=now))
    log.warning(Event.TARGET_DELETED, target=ref.key, remote_id=remote_id, then=then)


def note_deleted(result: RunResult, drift: Mapping[str, Mapping[str, int]]) -> None:
    """Give a run that found deleted targets their reason code, unless it has one already.

    A run that otherwise succeeded ends `partial` (exit 4), so the deletion is seen.
    """
    deleted = sorted(t for t, f in drift.items() if f.get(DELETED) or f.get(DELETED_KEPT))
    found_by_apply = result.apply.kept_deleted if result.apply is not None else []
    deleted += sorted(set(found_by_apply) - set(deleted))
    if not deleted or result.reason is not None:
        return
    if result.status not in (RunStatus.SUCCESS, RunStatus.PARTIAL):
        return
    kept = bool(found_by_apply) or any(drift[t].get(DELETED_KEPT) for t in drift)
    result.status = RunStatus.PARTIAL
    result.reason = Reason.TARGET_DELETED_KEPT if kept else Reason.TARGET_DELETED
    result.error_class = ErrorClass.TRANSIENT
    result.error = "deleted by a person: " + ", ".join(deleted)


def kept_deleted(db: Engine, workspace: str) -> set[str]:
    """Keys of targets a person deleted that syncd leaves deleted (`on_deleted_target: stop`)."""
    rt = table_of(RemoteTarget).c
    with db.connect() as conn:
        rows = conn.execute(
            select(rt.target).where(rt.workspace == workspace, rt.deleted_at.is_not(None))
        )
        return {key for (key,) in rows}


def without(targets: Sequence[SegmentTargets], keys: Collection[str]) -> list[SegmentTargets]:
    """`targets` with the lists and tags in `keys` switched off."""
    if not keys:
        return list(targets)
    out = []
    for st in targets:
        list_key = TargetRef(TargetKind.HUBSPOT_LIST, st.key).key
        tag_key = TargetRef(TargetKind.MAILCHIMP_TAG, st.key).key
        out.append(
            replace(
                st,
                hubspot_list=st.hubspot_list and list_key not in keys,
                mailchimp_tag=st.mailchimp_tag and tag_key not in keys,
            )
        )
    return out
