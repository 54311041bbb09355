"""Pulling into the store: identity by record ids, address changes, merges, cursors with data."""

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
    key: str | None = None
    merged_ids: tuple[str, ...] = ()


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


def test_a_record_read_again_unchanged_is_not_written(db: Engine) -> None:
    ada = Rec("1", "ada@example.com", {"country": "GB", "score": 3})
    bob = Rec("2", "bob@example.com", {"country": "FR"})
    member = Rec("h1", "ada@example.com", {"open_rate": 0.5}, status="subscribed", tags=["a"])
    store(db, "hubspot", [ada, bob])
    store(db, "mailchimp", [member])
    first = {c.id: c.updated_at for c in contacts(db)}
    # syncd's echo: every record again, one HubSpot field changed and one member tag.
    again = store(db, "hubspot", [ada, Rec("2", "bob@example.com", {"country": "DE"})])
    mid = {c.email: c.updated_at for c in contacts(db)}
    ids = {c.email: c.id for c in contacts(db)}
    assert mid["ada@example.com"] == first[ids["ada@example.com"]]  # not written
    assert mid["bob@example.com"] > first[ids["bob@example.com"]]
    tagged = store(db, "mailchimp", [Rec("h1", "ada@example.com", {"open_rate": 0.5},
                                         status="subscribed", tags=["a", "b"])])  # fmt: skip
    assert (again.unchanged, again.updated, tagged.unchanged, tagged.updated) == (1, 1, 0, 1)
    rows = {c.email: c for c in contacts(db)}
    assert rows["bob@example.com"].attributes["hubspot"] == {"country": "DE"}
    assert rows["ada@example.com"].attributes["mailchimp"]["_tags"] == ["a", "b"]
    unchanged = store(db, "mailchimp", [Rec("h1", "ada@example.com", {"open_rate": 0.5},
                                            status="subscribed", tags=["a", "b"])])  # fmt: skip
    assert unchanged.unchanged == 1
    after = {c.id: c.updated_at for c in contacts(db)}
    assert after[rows["ada@example.com"].id] > first[rows["ada@example.com"].id]  # the tag
    assert after[rows["bob@example.com"].id] > first[rows["bob@example.com"].id]


def test_email_change_moves_the_profile(db: Engine) -> None:
    store(db, "hubspot", [Rec("7", "old@example.com", {"x": 1})])
    figures = store(db, "hubspot", [Rec("7", "new@example.com", {"x": 2})])
    [c] = contacts(db)
    assert (c.email, c.hubspot_id, c.attributes["hubspot"]) == ("new@example.com", "7", {"x": 2})
    assert figures.moved == 1


def test_an_address_changed_in_hubspot_keeps_the_member_at_its_own_address(db: Engine) -> None:
    store(db, "hubspot", [Rec("7", "old@example.com", {"x": 1})])
    store(db, "mailchimp", [Rec("h", "old@example.com", {}, status="subscribed", key="k")])
    store(db, "hubspot", [Rec("7", "new@example.com", {"x": 2})])
    [c] = contacts(db)
    assert (c.email, c.hubspot_id, c.mailchimp_id) == ("new@example.com", "7", "h")
    assert c.mailchimp_email == "old@example.com"
    # A Mailchimp-only edit at the member's address does not flip the profile back.
    store(db, "mailchimp", [Rec("h", "old@example.com", {"o": 1}, status="subscribed", key="k")])
    [c] = contacts(db)
    assert (c.email, c.mailchimp_email) == ("new@example.com", "old@example.com")
    # The member changes its own address: a new subscriber hash, found by its key.
    store(db, "mailchimp", [Rec("h2", "mc@example.com", {}, status="subscribed", key="k")])
    [c] = contacts(db)
    assert (c.mailchimp_id, c.mailchimp_email, c.email) == (
        "h2",
        "mc@example.com",
        "new@example.com",
    )


def test_a_reused_address_never_fails_and_never_merges(db: Engine) -> None:
    store(db, "hubspot", [Rec("1", "a@example.com"), Rec("2", "b@example.com")])
    # In one page: 1 gives up a@ for c@, 3 takes a@ (the order that used to fail).
    figures = store(db, "hubspot", [Rec("3", "a@example.com"), Rec("1", "c@example.com")])
    assert (figures.created, figures.moved, figures.rejected) == (1, 1, 0)
    assert [(c.hubspot_id, c.email) for c in contacts(db)] == [
        ("1", "c@example.com"),
        ("2", "b@example.com"),
        ("3", "a@example.com"),
    ]
    # A case variant of a taken address is a HubSpot record of its own, not a duplicate row.
    store(db, "hubspot", [Rec("4", "B@Example.com")])
    assert sorted(c.hubspot_id for c in contacts(db) if c.email == "b@example.com") == ["2", "4"]
    store(db, "mailchimp", [Rec("hb", "b@example.com", status="subscribed")])
    linked = [c.hubspot_id for c in contacts(db) if c.mailchimp_id == "hb"]
    assert linked == ["2"] and len(contacts(db)) == 4


def test_a_merge_folds_two_profiles_with_both_histories(db: Engine) -> None:
    store(db, "hubspot", [Rec("1", "a@example.com"), Rec("2", "b@example.com")])
    store(db, "mailchimp", [Rec("hb", "b@example.com", status="subscribed")])
    loser = next(c for c in contacts(db) if c.hubspot_id == "2")
    with session_scope(db) as session:
        session.add(Membership(target="hubspot_list:vip", contact_id=loser.id, state="added"))
        session.add(Membership(target="mailchimp_tag:vip", contact_id=loser.id, state="added"))
        session.add(
            AuditEvent(contact_id=loser.id, email="b@example.com", action="add", outcome="applied")
        )
    figures = store(db, "hubspot", [Rec("1", "a@example.com", merged_ids=("2",))])
    assert figures.folded == 1
    winner = next(c for c in contacts(db) if c.hubspot_id == "1")
    assert (winner.mailchimp_id, winner.mailchimp_email) == ("hb", "b@example.com")
    gone = next(c for c in contacts(db) if c.id == loser.id)
    assert (gone.hubspot_id, gone.mailchimp_id) == (None, None)
    with session_scope(db) as session:
        rows = {(m.target, m.contact_id, m.state) for m in session.exec(select(Membership))}
        events = session.exec(select(AuditEvent)).all()
    # HubSpot keeps the merged records' list memberships: so does the ledger.
    assert rows == {
        ("hubspot_list:vip", winner.id, "added"),
        ("mailchimp_tag:vip", winner.id, "added"),
    }
    assert {e.contact_id for e in events} == {winner.id}
    assert sorted((e.action, e.outcome, e.reason_code) for e in events) == [
        ("add", "applied", None),
        ("merge", "detected", "contact_merged"),
    ]


def test_a_merged_record_with_a_new_id_keeps_the_oldest_profile(db: Engine) -> None:
    store(db, "hubspot", [Rec("1", "a@example.com"), Rec("2", "b@example.com")])
    first, _ = contacts(db)
    figures = store(db, "hubspot", [Rec("9", "a@example.com", merged_ids=("1", "2"))])
    assert (figures.created, figures.folded) == (0, 1)
    kept = next(c for c in contacts(db) if c.hubspot_id == "9")
    assert kept.id == first.id
    assert not [c for c in contacts(db) if c.hubspot_id in ("1", "2")]


def test_an_archived_member_has_its_tags_closed(db: Engine) -> None:
    store(db, "mailchimp", [Rec("h", "a@example.com", status="subscribed")])
    [c] = contacts(db)
    with session_scope(db) as session:
        session.add(Membership(target="mailchimp_tag:vip", contact_id=c.id, state="added"))
    store(db, "mailchimp", [Rec("h", "a@example.com", status="archived")])
    with session_scope(db) as session:
        [m] = session.exec(select(Membership)).all()
        [e] = session.exec(select(AuditEvent)).all()
    assert m.state == "removed"
    assert (e.action, e.outcome, e.reason_code) == ("remove", "closed", "member_archived")


def test_invalid_emails_are_rejected_and_recorded(db: Engine) -> None:
    figures = store(db, "hubspot", [Rec("3", None), Rec("4", "not-an-email")])
    assert contacts(db) == [] and figures.rejected == 2
    with session_scope(db) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert sorted((e.hubspot_id, e.outcome, e.message, e.reason_code) for e in events) == [
        ("3", "rejected", "no email address", "no_email"),
        ("4", "rejected", "invalid email address", "invalid_email"),
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


def _rows_planned(db: Engine) -> float:
    """What the planner believes `contacts` holds (-1: never analyzed); set by ANALYZE itself."""
    from sqlalchemy import text

    with db.connect() as conn:
        return float(
            conn.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'contacts'")
            ).scalar_one()
        )


def test_a_growing_pull_keeps_the_planners_statistics_current(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.engine.pull import TableStatistics

    monkeypatch.setattr(TableStatistics, "FIRST", 20)
    pages = [
        Pg([Rec(str(p * 10 + i), f"p{p * 10 + i}@example.com") for i in range(10)], None)
        for p in range(12)
    ]
    pull_all(db, "default", {"hubspot": ListPuller(pages)}, full=False, run_id=1, clock=utcnow)
    assert len(contacts(db)) == 120
    if db.dialect.name != "postgresql":
        return  # SQLite plans without statistics; nothing to keep
    # Analyzed at 20, 40 and 80 stored records: the planner knows of the last 80 at least.
    assert _rows_planned(db) >= 80
