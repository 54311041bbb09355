"""Helpers shared by the end-to-end tests and the crash test's child process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from syncd.config import SafetySettings, Settings, sandbox_settings
from syncd.runtime import Runtime
from syncd.sandbox import Sandbox
from syncd.store import Contact, Membership, MembershipState
from syncd.store.types import table_of

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def make_settings(sb: Sandbox, db_url: str, **safety: Any) -> Settings:
    """Settings pointing at the sandbox and the test database."""
    return sandbox_settings(sb, db_url, MAPPINGS, SafetySettings(**safety) if safety else None)


RuntimeFactory = Callable[..., Runtime]


def remote_lists(sb: Sandbox) -> dict[str, set[str]]:
    """syncd-owned HubSpot lists and their member record ids, read from the sandbox state."""
    with sb.state_lock():
        return {
            lst.name: {str(m) for m in lst.members}
            for lst in sb.hubspot.lists.values()
            if lst.name.startswith("syncd: ")
        }


def remote_tags(sb: Sandbox) -> dict[str, set[str]]:
    """Mailchimp tag name -> member subscriber hashes, for every tag."""
    with sb.state_lock():
        names = {sid: seg.name for sid, seg in sb.mailchimp.segments.items()}
        out: dict[str, set[str]] = {name: set() for name in names.values()}
        for h, member in sb.mailchimp.members.items():
            for sid in member.tags:
                out[names[sid]].add(h)
        return out


def ledger_members(rt: Runtime, target: str) -> set[str]:
    """Remote ids the ledger says syncd added to `target`."""
    c, m = table_of(Contact).c, table_of(Membership).c
    id_col = c.mailchimp_id if target.startswith("mailchimp") else c.hubspot_id
    with rt.db.connect() as conn:
        rows = conn.execute(
            select(id_col)
            .join_from(table_of(Membership), table_of(Contact), m.contact_id == c.id)
            .where(m.target == target, m.state == MembershipState.ADDED)
        )
        return {r[0] for r in rows}
