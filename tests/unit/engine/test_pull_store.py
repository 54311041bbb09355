"""Pulling into the store: merge by email, moves, duplicates, cursors with their data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from syncd.engine.profiles.merge import PullFigures
from syncd.engine.pull import pull_all, read_cursor, store_page
from syncd.store import AuditEvent, Contact, Membership, SyncRun, session_scope
from syncd.store.types import utcnow


@dataclass
class Rec:
    source_id: str
    email: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Pg:
    records: Sequence[Rec]
    cursor: str | None


class ListPuller:
    def __init__(self, pages: list[Pg], fail_after: int | None = None) -> None:
        self.pages = pages
        self.fail_after = fail_after
        self.cursors: list[str | None] = []

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Pg]:
        self.cursors.append(cursor)
        for i, page in enumerate(self.pages):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("connection reset")
            yield page


def contacts(db: Engine) -> list[Contact]:
    with session_scope(db) as session:
        return list(session.exec(select(Contact).order_by(col(Contact.id))).all())


def store(db: Engine, source: str, recs: list[Rec], cursor: str | None = None) -> PullFigures:
    figures = PullFigures()
    store_page(
        db,
        "default",
        source,
        recs,
        cursor=("contacts", cursor) if cursor else None,
        run_id=None,
        figures=figures,
        now=utcnow(),
    )
    return figures


def test_sources_merge_by_normalised_email(db: Engine) -> None:
    store(db, "hubspot", [Rec("1", "  Ada@Example.COM ", {"country": "GB"})])
    store(
        db,
        "mailchimp",
        [Rec("h1", "ada@example.com", {"open_rate": 0.5}, status="subscribed", tags=["vip"])],
    )
    [ada] = contacts(db)
    assert ada.email == "ada@example.com"
    assert (ada.hubspot_id, ada.mailchimp_id) == ("1", "h1")
    assert ada.attributes["hubspot"] == {"country": "GB"}
    assert ada.attributes["mailchimp"]["open_rate"] == 0.5
    assert ada.attributes["mailchimp"]["_status"] == "subscribed"
    assert ada.attributes["mailchimp"]["_tags"] == ["vip"]


def test_update_from_one_source_keeps_the_other(db: Engine) -> None:
    store(db, "hubspot", [Rec("1", "a@example.com", {"country": "GB"})])
    store(db, "mailchimp", [Rec("h", "a@example.com", {"open_rate": 0.1}, status="subscribed")])
    store(db, "hubspot", [Rec("1", "a@example.com", {"country": "FR"})])
    [a] = contacts(db)
    assert a.attributes["hubspot"] == {"country": "FR"}
    assert a.attributes["mailchimp"]["open_rate"] == 0.1


def test_email_change_moves_the_profile(db: Engine) -> None:
    store(db, "hubspot", [Rec("7", "old@example.com", {"x": 1})])
    figures = store(db, "hubspot", [Rec("7", "new@example.com", {"x": 2})])
    [c] = contacts(db)
    assert (c.email, c.hubspot_id, c.attributes["hubspot"]) == ("new@example.com", "7", {"x": 2})
    assert figures.moved == 1


def test_email_change_onto_an_existing_profile_moves_source_and_ownership(db: Engine) -> None:
    store(db, "hubspot", [Rec("7", "old@example.com", {"x": 1})])
    store(db, "mailchimp", [Rec("h", "new@example.com", {}, status="subscribed")])
    old_id = contacts(db)[0].id
    with session_scope(db) as session:
        session.add(Membership(target="hubspot_list:vip", contact_id=old_id, state="added"))
    store(db, "hubspot", [Rec("7", "new@example.com", {"x": 2})])
    [c] = contacts(db)  # the HubSpot-only profile was emptied and removed
    assert (c.email, c.hubspot_id, c.mailchimp_id) == ("new@example.com", "7", "h")
    with session_scope(db) as session:
        [m] = session.exec(select(Membership)).all()
    assert m.contact_id == c.id


def test_invalid_and_duplicate_emails_are_rejected_and_recorded(db: Engine) -> None:
    figures = store(
        db,
        "hubspot",
        [
            Rec("1", "dup@example.com"),
            Rec("2", "DUP@example.com "),
            Rec("3", None),
            Rec("4", "not-an-email"),
        ],
    )
    assert [c.hubspot_id for c in contacts(db)] == ["1"]
    assert (figures.rejected, figures.duplicates) == (2, 1)
    with session_scope(db) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert sorted((e.hubspot_id, e.outcome, e.message) for e in events) == [
        ("2", "rejected", "duplicate email: another hubspot record already has this email address"),
        ("3", "rejected", "no email address"),
        ("4", "rejected", "invalid email address"),
    ]
    assert sorted((e.hubspot_id, e.reason_code) for e in events) == [
        ("2", "duplicate_email"),
        ("3", "no_email"),
        ("4", "invalid_email"),
    ]


def test_cursor_advances_only_with_stored_pages(db: Engine) -> None:
    with session_scope(db) as session:
        session.add(SyncRun(trigger="manual"))
    pages = [Pg([Rec("1", "a@example.com")], "c1"), Pg([Rec("2", "b@example.com")], "c2")]
    puller = ListPuller(pages, fail_after=1)
    with pytest.raises(RuntimeError):
        pull_all(db, "default", {"hubspot": puller}, full=False, run_id=1, clock=utcnow)
    assert read_cursor(db, "default", "hubspot", "contacts") == "c1"
    assert len(contacts(db)) == 1
    resumed = ListPuller(pages[1:])
    figures = pull_all(db, "default", {"hubspot": resumed}, full=False, run_id=1, clock=utcnow)
    assert resumed.cursors == ["c1"]
    assert figures["hubspot"].records == 1
    assert read_cursor(db, "default", "hubspot", "contacts") == "c2"
    full = ListPuller([])
    pull_all(db, "default", {"hubspot": full}, full=True, run_id=1, clock=utcnow)
    assert full.cursors == [None]
