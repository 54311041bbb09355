"""Samples of a plan for a person to review: a few changes per target, with who and why.

Taken where the plan was made: a dry run's new contacts exist only in its scratch store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from syncd.engine.plan import Plan
from syncd.store.models import Contact
from syncd.store.types import table_of

#: Changes shown per target.
SAMPLES_PER_TARGET = 5


def sample_changes(
    db: Engine, plan: Plan, per_target: int = SAMPLES_PER_TARGET
) -> dict[str, list[dict[str, Any]]]:
    """A few changes per target with the contact's email and the reason, for review."""
    picked: dict[str, list[Any]] = {}
    for change in plan.changes:
        rows = picked.setdefault(change.target, [])
        if len(rows) < per_target:
            rows.append(change)
    ids = {c.contact_id for rows in picked.values() for c in rows}
    emails: dict[int, str] = {}
    if ids:
        c = table_of(Contact).c
        with db.connect() as conn:
            found = conn.execute(select(c.id, c.email).where(c.id.in_(ids)))
            emails = {int(cid): str(email) for cid, email in found}
    return {
        target: [
            {
                "contact": emails.get(ch.contact_id, str(ch.contact_id)),
                "action": str(ch.action),
                "value": ch.value,
                "reason": ch.reason,
            }
            for ch in rows
        ]
        for target, rows in sorted(picked.items())
    }
