"""Holds per target, end to end: one hold per target until a person decides, with a record."""

from __future__ import annotations

from sqlalchemy import select

from syncd.runtime import Runtime
from syncd.sandbox import Sandbox
from syncd.store import OutboxState, RunStatus
from syncd.store.models import AuditEvent, Hold, HoldStatus, OutboxEntry
from syncd.store.types import table_of
from tests.e2e.helpers import RuntimeFactory, remote_lists, remote_tags


def _empty_lifecycle(sandbox: Sandbox) -> None:
    """A bad CRM edit: every contact loses its lifecycle stage, so segments empty out."""
    with sandbox.state_lock():
        for contact in sandbox.hubspot.contacts.values():
            contact.props.pop("lifecyclestage", None)


def _holds(rt: Runtime) -> list[dict[str, object]]:
    h = table_of(Hold).c
    with rt.db.connect() as conn:
        rows = conn.execute(select(table_of(Hold)).order_by(h.id)).mappings().all()
    return [dict(r) for r in rows]


def _held_rows(rt: Runtime) -> dict[str, set[int]]:
    """Target -> run ids of its outbox rows waiting in state `held`."""
    o = table_of(OutboxEntry).c
    out: dict[str, set[int]] = {}
    with rt.db.connect() as conn:
        for target, run_id in conn.execute(
            select(o.target, o.run_id).where(o.state == OutboxState.HELD)
        ):
            out.setdefault(target, set()).add(run_id)
    return out


def _remote(sandbox: Sandbox) -> dict[str, set[str]]:
    lists = {
        f"hubspot_list:{k.removeprefix('syncd: ')}": v for k, v in remote_lists(sandbox).items()
    }
    tags = {f"mailchimp_tag:{k.removeprefix('syncd:')}": v for k, v in remote_tags(sandbox).items()}
    return lists | tags


def test_a_mass_removal_holds_only_its_targets_until_a_person_decides(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    make_runtime().syncer.sync(trigger="manual", full=True)
    strict = make_runtime(max_removals=5)
    _empty_lifecycle(sandbox)
    before = _remote(sandbox)

    first = strict.syncer.sync(trigger="reconcile", full=True)
    assert first.status is RunStatus.PARTIAL and first.exit_code == 4
    held = set(first.counts.held)
    assert held, "the guard held nothing"
    removals = {t: r.get("remove", 0) for t, r in first.plan.counts().items()}
    assert held == {t for t, n in removals.items() if n > 5}
    after = _remote(sandbox)
    for target in held:
        assert after[target] == before[target], f"{target} was written while held"
    assert first.counts.targets["hubspot_property:syncd"].get("set", 0) > 0

    # Three more cycles: the hold stays on the run that made it, once per target.
    for _ in range(3):
        later = strict.syncer.sync(trigger="schedule")
        assert later.status is not RunStatus.HELD
        assert later.counts.waiting == dict.fromkeys(held, first.run_id)
        assert not later.counts.held
    waiting = [h for h in _holds(strict) if h["status"] == HoldStatus.WAITING]
    assert sorted(str(h["target"]) for h in waiting) == sorted(held)
    assert _held_rows(strict) == {t: {first.run_id} for t in held}
    assert _remote(sandbox) == after

    # Reject one target: recorded with who and when; the next run holds it again.
    rejected_target = sorted(held)[0]
    decided = strict.syncer.reject(first.run_id or 0, target=rejected_target, by="ana")
    assert [d.target for d in decided] == [rejected_target]
    o = table_of(OutboxEntry).c
    with strict.db.connect() as conn:
        codes = set(
            conn.execute(
                select(o.reason_code).where(
                    o.target == rejected_target, o.state == OutboxState.CANCELLED
                )
            ).scalars()
        )
    assert "hold_rejected" in codes
    row = next(h for h in _holds(strict) if h["target"] == rejected_target)
    assert row["status"] == HoldStatus.REJECTED and row["decided_by"] == "ana"
    assert row["decided_at"] is not None
    again = strict.syncer.sync(trigger="schedule")
    assert rejected_target in again.counts.held
    assert again.status in (RunStatus.HELD, RunStatus.PARTIAL)

    # Release the rest of the first run: applied, recorded on the run and in the audit log.
    released = strict.syncer.release(first.run_id or 0, by="ben")
    assert released.status is RunStatus.SUCCESS, released.error
    now = _remote(sandbox)
    for target in held - {rejected_target}:
        assert len(now[target]) < len(before[target]), target
    decisions = {d["target"]: d for d in released.counts.decisions}
    assert decisions[rejected_target]["decision"] == "rejected"
    assert {t for t, d in decisions.items() if d["decision"] == "released"} == held - {
        rejected_target
    }
    assert all(d["by"] in ("ana", "ben") and d["at"] for d in decisions.values())
    a = table_of(AuditEvent).c
    with strict.db.connect() as conn:
        audited = conn.execute(
            select(a.target, a.action, a.message).where(a.outcome == "decided")
        ).all()
    assert {(t, act) for t, act, _ in audited} >= {(rejected_target, "reject")} | {
        (t, "release") for t in held - {rejected_target}
    }
    assert all("ana" in m or "ben" in m for _, _, m in audited)


def test_a_hold_with_nothing_left_to_change_is_cleared(
    sandbox: Sandbox, make_runtime: RuntimeFactory
) -> None:
    make_runtime().syncer.sync(trigger="manual", full=True)
    strict = make_runtime(max_removals=5)
    with sandbox.state_lock():
        saved = {cid: c.props.get("lifecyclestage") for cid, c in sandbox.hubspot.contacts.items()}
    _empty_lifecycle(sandbox)
    first = strict.syncer.sync(trigger="reconcile", full=True)
    assert first.counts.held
    # The CRM edit is undone: nothing is left to decide, so the holds clear themselves.
    with sandbox.state_lock():
        for cid, stage in saved.items():
            if stage is not None:
                sandbox.hubspot.contacts[cid].props["lifecyclestage"] = stage
    later = strict.syncer.sync(trigger="reconcile", full=True)
    assert not later.counts.waiting
    assert not set(later.counts.held) & set(first.counts.held)
    cleared = {str(h["target"]) for h in _holds(strict) if h["status"] == HoldStatus.CLEARED}
    assert cleared == set(first.counts.held)
    assert set(_held_rows(strict)) == set(later.counts.held)
