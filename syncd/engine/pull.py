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

from sqlalchemy import Connection, Engine, bindparam, delete, func, select

from syncd.audit import get_logger
from syncd.engine.profiles import STATUS_KEY, TAGS_KEY
from syncd.identity import normalise_email
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
    id_col = _ID_COLUMN[source]
    table = table_of(Contact)
    c = table.c
    valid: list[tuple[Record, str]] = []
    rejects = []
    for rec in records:
        figures.records += 1
        email = normalise_email(rec.email)
        if email is None:
            figures.rejected += 1
            rejects.append(
                _reject_event(workspace, run_id, source, rec, "invalid or missing email")
            )
            continue
        valid.append((rec, email))
    # Later records of the same page win over earlier ones with the same source id.
    latest: dict[str, tuple[Record, str]] = {rec.source_id: (rec, email) for rec, email in valid}
    ids = list(latest)
    emails = list({email for _, email in latest.values()})
    by_source: dict[str, dict[str, Any]] = {}
    by_email: dict[str, dict[str, Any]] = {}
    if ids:
        cols = (c.id, c.email, c.hubspot_id, c.mailchimp_id, c.attributes)
        for row in conn.execute(
            select(*cols).where(c.workspace == workspace, c[id_col].in_(ids))
        ).mappings():
            by_source[row[id_col]] = dict(row)
        for row in conn.execute(
            select(*cols).where(c.workspace == workspace, c.email.in_(emails))
        ).mappings():
            by_email[row["email"]] = dict(row)
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[int, dict[str, Any]] = {}
    detach: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for source_id, (rec, email) in latest.items():
        fields = dict(rec.fields)
        if source == "mailchimp":
            fields[STATUS_KEY] = rec.status
            fields[TAGS_KEY] = list(rec.tags)
        current = by_source.get(source_id)  # the profile that already holds this record
        holder = by_email.get(email)  # the profile that already has this address
        owner = holder
        if current is not None and current["email"] == email:
            owner = current
        elif current is not None and holder is None:
            # Same record, new address: the profile moves with it.
            figures.moved += 1
            by_email.pop(current["email"], None)
            current["email"] = email
            by_email[email] = current
            owner = current
        elif current is not None and holder is not None:
            # The new address already has a profile: this source moves over to it.
            figures.moved += 1
            detach.append((current, holder))
        if owner is None:
            if email in inserts:
                figures.duplicates += 1
                rejects.append(_reject_event(workspace, run_id, source, rec, "duplicate email"))
                continue
            inserts[email] = {
                "workspace": workspace,
                "email": email,
                id_col: source_id,
                "attributes": {source: fields},
                "created_at": now,
                "updated_at": now,
            }
            figures.created += 1
            continue
        if owner.get(id_col) not in (None, source_id):
            figures.duplicates += 1
            rejects.append(
                _reject_event(
                    workspace,
                    run_id,
                    source,
                    rec,
                    f"duplicate email: another {source} record already has it",
                )
            )
            continue
        attrs = dict(owner.get("attributes") or {})
        attrs[source] = fields
        owner["attributes"] = attrs
        owner[id_col] = source_id
        updates[owner["id"]] = owner
        figures.updated += 1
    for old, _ in detach:
        attrs = dict(old.get("attributes") or {})
        attrs.pop(source, None)
        old[id_col] = None
        old["attributes"] = attrs
        updates[old["id"]] = old
    if detach:
        # Free the unique source id before it is given to its new owner, and hand the
        # ledger rows of this source's targets over with it, so ownership is not lost.
        conn.execute(
            table.update().where(c.id == bindparam("_id")).values({id_col: None}),
            [{"_id": old["id"]} for old, _ in detach],
        )
        m = table_of(Membership)
        conn.execute(
            m.update()
            .where(m.c.contact_id == bindparam("_old"), m.c.target.like(f"{source}_%"))
            .values(contact_id=bindparam("_new")),
            [{"_old": old["id"], "_new": new["id"]} for old, new in detach],
        )
    if updates:
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
                    "_id": u["id"],
                    "_email": u["email"],
                    "_hubspot_id": u["hubspot_id"],
                    "_mailchimp_id": u["mailchimp_id"],
                    "_attributes": u["attributes"],
                }
                for u in updates.values()
            ],
        )
        figures.contact_ids.update(updates)
        empty = [u["id"] for u in updates.values() if not u["attributes"]]
        if empty:
            conn.execute(delete(table).where(c.id.in_(empty)))
    if inserts:
        result = conn.execute(table.insert().returning(c.id), list(inserts.values()))
        figures.contact_ids.update(r[0] for r in result)
    if rejects:
        conn.execute(table_of(AuditEvent).insert(), rejects)
        log.warning("pull.rejected", source=source, count=len(rejects))


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
