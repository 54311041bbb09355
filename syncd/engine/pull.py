"""Pull: stream pages from a connector into the contact store, merging by email.

Each page is written in one transaction together with the cursor that describes it, so a
crash never advances a cursor past data that was not stored. Profiles keep each source's
fields apart (`attributes = {"hubspot": {...}, "mailchimp": {...}}`); the merged view, with
the per-field preference of `fields.yaml`, is built when segments are computed
(`syncd.engine.profiles`), so an update from one source never erases the other's values.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, bindparam, delete, func, or_, select

from syncd.audit import get_logger
from syncd.engine.profiles import STATUS_KEY, TAGS_KEY
from syncd.identity import Decision, Profile, email_problem, normalise_email, resolve
from syncd.store.models import AuditEvent, Contact, Cursor, Membership
from syncd.store.types import table_of, utcnow

log = get_logger(__name__)


class Record(Protocol):
    """What the engine reads of a connector's `SourceRecord`."""

    @property
    def source_id(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...
    @property
    def status(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...


class Page(Protocol):
    """One page of a pull and the cursor that is safe to store with it."""

    @property
    def records(self) -> Sequence[Record]: ...
    @property
    def cursor(self) -> str | None: ...


class Puller(Protocol):
    """The read side of a connector, as the engine uses it."""

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Stream pages changed since `cursor` (everything when `full`)."""
        ...


@dataclass
class PullFigures:
    """What one connector's pull stored."""

    records: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    rejected: int = 0
    duplicates: int = 0
    pages: int = 0
    contact_ids: set[int] = field(default_factory=set)


_ID_COLUMN = {"hubspot": "hubspot_id", "mailchimp": "mailchimp_id"}
#: A profile in a page being merged: its row id, or ("new", email) before it is inserted.
Key = int | tuple[str, str]


STREAM = "contacts"


_DONE = object()


def pull_all(
    engine: Engine,
    workspace: str,
    pullers: Mapping[str, Puller],
    *,
    full: bool,
    run_id: int | None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, PullFigures]:
    """Pull every connector at once; pages are stored one at a time, each with its cursor.

    Each connector fetches on its own thread (their rate limits are independent), while this
    thread merges pages into the store in arrival order, so merging by email never races.
    A small bounded queue keeps memory flat whatever the audience size.
    """
    out = {name: PullFigures() for name in pullers}
    cursors = {
        name: None if full else read_cursor(engine, workspace, name, STREAM) for name in pullers
    }
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def fetch(name: str, puller: Puller) -> None:
        try:
            for page in puller.pull(cursors[name], full=full):
                while not stop.is_set():
                    try:
                        pages.put((name, page), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put((name, _DONE))
        except BaseException as exc:  # noqa: BLE001 - handed to the storing thread, re-raised there
            pages.put((name, exc))

    threads = [
        threading.Thread(target=fetch, args=(n, p), name=f"pull-{n}", daemon=True)
        for n, p in pullers.items()
    ]
    for t in threads:
        t.start()
    try:
        running = len(threads)
        while running:
            name, item = pages.get()
            if item is _DONE:
                running -= 1
                _log_done(name, full, out[name])
                continue
            if isinstance(item, BaseException):
                raise item
            store_page(
                engine,
                workspace,
                name,
                item.records,
                cursor=(STREAM, item.cursor) if item.cursor is not None else None,
                run_id=run_id,
                figures=out[name],
            )
            if progress is not None:
                progress(f"pull:{name}", len(item.records))
    finally:
        stop.set()
        while any(t.is_alive() for t in threads):
            try:
                pages.get(timeout=0.1)
            except queue.Empty:
                continue
    return out


def _log_done(name: str, full: bool, figures: PullFigures) -> None:
    log.info(
        "pull.done",
        connector=name,
        full=full,
        records=figures.records,
        created=figures.created,
        updated=figures.updated,
        moved=figures.moved,
        rejected=figures.rejected,
        duplicates=figures.duplicates,
        pages=figures.pages,
    )


def read_cursor(engine: Engine, workspace: str, connector: str, stream: str) -> str | None:
    """The stored cursor of one stream, or None before the first pull."""
    with engine.begin() as conn:
        c = table_of(Cursor).c
        value: str | None = conn.execute(
            select(c.value).where(
                c.workspace == workspace, c.connector == connector, c.stream == stream
            )
        ).scalar_one_or_none()
    return value


def store_page(
    engine: Engine,
    workspace: str,
    source: str,
    records: Sequence[Record],
    *,
    cursor: tuple[str, str | None] | None,
    run_id: int | None,
    figures: PullFigures,
) -> None:
    """Merge one page of records into the store and advance the cursor, atomically.

    Args:
        engine: The store.
        workspace: Whose contacts.
        source: `hubspot` or `mailchimp`.
        records: The page.
        cursor: `(stream, value)` to persist with the page, or None to leave it.
        run_id: For audit rows of rejected records.
        figures: Updated in place.
    """
    now = utcnow()
    with engine.begin() as conn:
        _merge(conn, workspace, source, records, run_id, figures, now)
        if cursor is not None:
            _save_cursor(conn, workspace, source, cursor[0], cursor[1], now)
    figures.pages += 1


def _merge(
    conn: Connection,
    workspace: str,
    source: str,
    records: Sequence[Record],
    run_id: int | None,
    figures: PullFigures,
    now: datetime,
) -> None:
    """Place each record with `syncd.identity.resolve`, then write the changed profiles."""
    id_col = _ID_COLUMN[source]
    table = table_of(Contact)
    c = table.c
    latest: dict[str, Record] = {}
    for rec in records:  # a later record of the same page wins over an earlier one
        figures.records += 1
        latest[rec.source_id] = rec
    emails = list({e for r in latest.values() if (e := normalise_email(r.email)) is not None})
    profiles: dict[Key, Profile] = {}
    by_id: dict[str, Key] = {}
    by_email: dict[str, Key] = {}
    if latest:
        query = select(c.id, c.email, c.hubspot_id, c.mailchimp_id, c.attributes).where(
            c.workspace == workspace, or_(c[id_col].in_(list(latest)), c.email.in_(emails))
        )
        for row in conn.execute(query):
            ids = {"hubspot": row.hubspot_id, "mailchimp": row.mailchimp_id}
            profiles[row.id] = Profile(
                row.email, {k: v for k, v in ids.items() if v}, dict(row.attributes or {})
            )
            by_email[row.email] = row.id
            if ids[source]:
                by_id[ids[source]] = row.id
    changed: set[Key] = set()
    handover: dict[Key, Key] = {}  # old profile -> the one its record moved onto
    rejects = []
    for source_id, rec in latest.items():
        fields = dict(rec.fields)
        if source == "mailchimp":
            fields[STATUS_KEY] = rec.status
            fields[TAGS_KEY] = list(rec.tags)
        holder_key = by_id.get(source_id)
        owner_key = by_email.get(normalise_email(rec.email) or "")
        holder = profiles[holder_key] if holder_key is not None else None
        owner = profiles[owner_key] if owner_key is not None else None
        res = resolve(source, source_id, rec.email, fields, holder=holder, owner=owner)
        if res.decision in (Decision.REJECT, Decision.DUPLICATE) or res.profile is None:
            if res.decision is Decision.DUPLICATE:
                figures.duplicates += 1
                message = f"duplicate email: {res.reason}"
            else:
                figures.rejected += 1
                missing = email_problem(rec.email) == "missing"
                message = "no email address" if missing else "invalid email address"
            rejects.append(_reject_event(workspace, run_id, source, rec, message))
            continue
        if res.decision is Decision.CREATE:
            key: Key | None = ("new", res.profile.email)
            figures.created += 1
        elif res.detached is not None:
            # The record moved onto the profile that already had its new address.
            assert holder_key is not None
            profiles[holder_key] = res.detached
            changed.add(holder_key)
            key = owner_key
            if key is not None:
                handover[holder_key] = key
            figures.moved += 1
        elif res.decision is Decision.MOVE:  # same profile, new address
            assert holder_key is not None
            by_email.pop(profiles[holder_key].email, None)
            key = holder_key
            figures.moved += 1
        else:
            same = holder is not None and holder.email == res.profile.email
            key = holder_key if same else owner_key
            figures.updated += 1
        assert key is not None
        profiles[key] = res.profile
        by_email[res.profile.email] = key
        by_id[source_id] = key
        changed.add(key)
    _write_profiles(conn, workspace, source, profiles, changed, handover, figures, now)
    if rejects:
        conn.execute(table_of(AuditEvent).insert(), rejects)
        log.warning("pull.rejected", source=source, count=len(rejects))


def _write_profiles(
    conn: Connection,
    workspace: str,
    source: str,
    profiles: Mapping[Key, Profile],
    changed: set[Key],
    handover: Mapping[Key, Key],
    figures: PullFigures,
    now: datetime,
) -> None:
    """Insert new profiles, update changed ones, and drop profiles left with no source."""
    table = table_of(Contact)
    c = table.c
    existing = [k for k in changed if isinstance(k, int)]
    if existing:
        # A moved record's source id is freed on its old profile before anyone reuses it.
        conn.execute(table.update().where(c.id.in_(existing)).values({_ID_COLUMN[source]: None}))
    row_id: dict[Key, int] = {k: k for k in existing}
    fresh = [k for k in changed if not isinstance(k, int)]
    if fresh:
        rows = [
            {
                "workspace": workspace,
                "email": profiles[k].email,
                "hubspot_id": profiles[k].ids.get("hubspot"),
                "mailchimp_id": profiles[k].ids.get("mailchimp"),
                "attributes": profiles[k].sources,
                "created_at": now,
                "updated_at": now,
            }
            for k in fresh
        ]
        ids = conn.execute(table.insert().returning(c.id, sort_by_parameter_order=True), rows)
        row_id.update(zip(fresh, ids.scalars(), strict=True))
    kept = [k for k in existing if profiles[k].sources]
    if kept:
        conn.execute(
            table.update()
            .where(c.id == bindparam("_id"))
            .values(
                email=bindparam("_email"),
                hubspot_id=bindparam("_hubspot_id"),
                mailchimp_id=bindparam("_mailchimp_id"),
                attributes=bindparam("_attributes"),
                updated_at=now,
            ),
            [
                {
                    "_id": k,
                    "_email": profiles[k].email,
                    "_hubspot_id": profiles[k].ids.get("hubspot"),
                    "_mailchimp_id": profiles[k].ids.get("mailchimp"),
                    "_attributes": profiles[k].sources,
                }
                for k in kept
            ],
        )
    m = table_of(Membership)
    for old, new in handover.items():
        # Ownership of this source's targets goes with the record to its new profile.
        conn.execute(
            m.update()
            .where(m.c.contact_id == row_id[old], m.c.target.like(f"{source}_%"))
            .values(contact_id=row_id[new])
        )
    gone = [k for k in existing if not profiles[k].sources]
    if gone:
        conn.execute(delete(table).where(c.id.in_(gone)))
    figures.contact_ids.update(row_id[k] for k in changed if k not in gone)


def _reject_event(
    workspace: str, run_id: int | None, source: str, rec: Record, message: str
) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "run_id": run_id,
        "at": utcnow(),
        "contact_id": None,
        "email": (rec.email or "")[:320] or None,
        "hubspot_id": rec.source_id if source == "hubspot" else None,
        "mailchimp_id": rec.source_id if source == "mailchimp" else None,
        "segment": None,
        "target": None,
        "action": "ingest",
        "reason": f"pull from {source}",
        "outcome": "rejected",
        "error_class": "rejected",
        "message": message,
    }


def _save_cursor(
    conn: Connection,
    workspace: str,
    connector: str,
    stream: str,
    value: str | None,
    now: datetime,
) -> None:
    table = table_of(Cursor)
    c = table.c
    where = (c.workspace == workspace, c.connector == connector, c.stream == stream)
    done = conn.execute(table.update().where(*where).values(value=value, updated_at=now))
    if done.rowcount == 0:
        conn.execute(
            table.insert().values(
                workspace=workspace, connector=connector, stream=stream, value=value, updated_at=now
            )
        )


def contact_count(engine: Engine, workspace: str) -> int:
    """How many profiles the workspace has."""
    with engine.begin() as conn:
        c = table_of(Contact).c
        return int(conn.execute(select(func.count()).where(c.workspace == workspace)).scalar_one())
