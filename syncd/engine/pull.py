"""Pull: stream pages from the connectors into the contact store.

Each page is written in one transaction together with the cursor that describes it, so a
crash never advances a cursor past data that was not stored (`syncd.engine.profiles.merge` places
the records). The merged view, with the per-field preference of `fields.yaml`, is built when
segments are computed (`syncd.engine.profiles.read`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from connectors.base import ConfirmsPresence, ContactSource, SourceRecord
from syncd.engine.profiles.departure import depart, unseen_ids
from syncd.engine.profiles.merge import PullFigures, merge_page
from syncd.errors import SyncdError
from syncd.events import Event
from syncd.logs import get_logger
from syncd.producers import drain
from syncd.store.lease import UNFENCED, Clock, Fence, fenced
from syncd.store.maintenance import analyze
from syncd.store.models import Contact, Cursor
from syncd.store.types import table_of

log = get_logger(__name__)


STREAM = "contacts"


#: Pages fetched ahead of the one being stored, all connectors together.
PAGES_IN_MEMORY = 4


def pull_all(
    db: Engine,
    workspace: str,
    pullers: Mapping[str, ContactSource],
    *,
    full: bool,
    run_id: int | None,
    clock: Clock,
    progress: Callable[[str, int], None] | None = None,
    fence: Fence = UNFENCED,
    failures: dict[str, SyncdError] | None = None,
) -> dict[str, PullFigures]:
    """Pull every connector at once; pages are stored one at a time, each with its cursor.

    Each connector fetches on its own thread (their rate limits are independent), while this
    thread merges pages into the store in arrival order, so merging by email never races.
    A small bounded queue keeps memory flat whatever the audience size.

    Args:
        db: The store.
        workspace: Whose contacts.
        pullers: Connector name -> its read side.
        full: Pull everything (and sweep what was not seen) instead of changes.
        run_id: The run, for audit rows.
        clock: The run's clock.
        progress: Called with `(phase, rows)` per stored page.
        fence: The run's lease.
        failures: When given, a connector whose pull fails after its retries is recorded
            here and the others go on: the run then works from that vendor's last stored
            data (its cursor stays where its last stored page left it, and a full pull's
            sweep is skipped, since an interrupted pull proves nothing about who left).
            Without it, the first failure raises. Failures inside syncd always raise.

    Raises:
        SyncdError: A connector failed and `failures` was not given, or every one failed.
    """
    out = {name: PullFigures() for name in pullers}

    def isolate(name: str, exc: BaseException) -> bool:
        if failures is None or not isinstance(exc, SyncdError):
            return False
        if len(failures) + 1 >= len(pullers):
            return False  # nothing left to work from: the run fails as before
        failures[name] = exc
        log.error(Event.PULL_SOURCE_FAILED, connector=name, error=str(exc), reason=exc.reason)
        return True

    sources = {
        name: puller.pull(None if full else read_cursor(db, workspace, name, STREAM), full=full)
        for name, puller in pullers.items()
    }
    stream = drain(
        sources,
        PAGES_IN_MEMORY,
        on_done=lambda name: _log_done(name, full, out[name]),
        on_error=isolate,
        thread_prefix="pull",
    )
    planner_stats = TableStatistics(db, table_of(Contact).name)
    for name, page in stream:
        store_page(
            db,
            workspace,
            name,
            page.records,
            cursor=(STREAM, page.cursor) if page.cursor is not None else None,
            run_id=run_id,
            figures=out[name],
            now=clock(),
            fence=fence,
        )
        planner_stats.grew(len(page.records))
        if progress is not None:
            progress(f"pull:{name}", len(page.records))
    if full:
        for name, figures in out.items():
            if failures and name in failures:
                continue
            _sweep(db, workspace, name, pullers[name], figures, run_id, clock(), fence)
    return out


class TableStatistics:
    """Keeps PostgreSQL's statistics of a table current while a pull grows it.

    A first pull fills an empty `contacts` table. Until the table is analyzed, PostgreSQL plans
    a page's profile lookups as if it were tiny: it looked partners up through the
    `hubspot_id IS NULL` index, walking every Mailchimp-only profile for each HubSpot page, so
    the merge grew with the table (208 s for 100k contacts, against 17 s on SQLite).
    Autovacuum analyzes late, or never where it is off. So the pull analyzes the table itself
    each time the records it has stored double, from 10,000: about log2(n / 10,000) times, each
    a sample of at most 30,000 rows. Other databases plan without it.
    """

    FIRST = 10_000

    def __init__(self, db: Engine, table: str) -> None:
        self._db = db
        self._table = table
        self._stored = 0
        self._next: int | None = self.FIRST if db.dialect.name == "postgresql" else None

    def grew(self, records: int) -> None:
        """Count `records` stored; analyze the table when the count has doubled."""
        if self._next is None:
            return
        self._stored += records
        if self._stored < self._next:
            return
        self._next = self._stored * 2
        if not analyze(self._db, self._table):  # refused (not the owner): plans stay as they are
            self._next = None


def _sweep(
    db: Engine,
    workspace: str,
    source: str,
    puller: ContactSource,
    figures: PullFigures,
    run_id: int | None,
    now: datetime,
    fence: Fence,
) -> None:
    """After a complete full pull: the stored records it did not see have left their system.

    An empty pull proves nothing (the empty-pull guard holds that run), so it sweeps nothing.
    A source whose pull may miss a living record (`ConfirmsPresence`) is asked about the
    unseen ones first; those it still has are stored like any page. If it cannot answer,
    nothing is swept this time.
    """
    if not figures.seen:
        return
    with db.connect() as conn:
        gone = unseen_ids(conn, workspace, source, figures.seen)
    if gone and isinstance(puller, ConfirmsPresence):
        try:
            for page in puller.still_present(gone):
                store_page(
                    db, workspace, source, page.records, cursor=None, run_id=run_id,
                    figures=figures, now=now, fence=fence,
                )  # fmt: skip
        except SyncdError as e:
            log.warning(Event.PULL_SWEEP_SKIPPED, connector=source, reason=e.reason)
            return
        gone = figures.seen.missing(gone)  # those it still has were stored (and seen) now
    with fenced(db, fence) as conn:
        figures.departed = depart(conn, workspace, source, gone, run_id, now) if gone else 0


def _log_done(name: str, full: bool, figures: PullFigures) -> None:
    log.info(
        Event.PULL_DONE,
        connector=name,
        full=full,
        records=figures.records,
        created=figures.created,
        updated=figures.updated,
        unchanged=figures.unchanged,
        moved=figures.moved,
        rejected=figures.rejected,
        linked=figures.linked,
        folded=figures.folded,
        pages=figures.pages,
    )


def read_cursor(db: Engine, workspace: str, connector: str, stream: str) -> str | None:
    """The stored cursor of one stream, or None before the first pull."""
    with db.begin() as conn:
        c = table_of(Cursor).c
        value: str | None = conn.execute(
            select(c.value).where(
                c.workspace == workspace, c.connector == connector, c.stream == stream
            )
        ).scalar_one_or_none()
    return value


def store_page(
    db: Engine,
    workspace: str,
    source: str,
    records: Sequence[SourceRecord],
    *,
    cursor: tuple[str, str | None] | None,
    run_id: int | None,
    figures: PullFigures,
    now: datetime,
    fence: Fence = UNFENCED,
) -> None:
    """Merge one page of records into the store and advance the cursor, atomically.

    Args:
        db: The store.
        workspace: Whose contacts.
        source: `hubspot` or `mailchimp`.
        records: The page.
        cursor: `(stream, value)` to persist with the page, or None to leave it.
        run_id: For audit rows of rejected records.
        figures: Updated in place.
        now: The run's clock reading, stamped on the rows written.
        fence: The apply lease of the run; a writer that lost it stores nothing more.
    """
    with fenced(db, fence) as conn:
        merge_page(conn, workspace, source, records, run_id, figures, now)
        if cursor is not None:
            _save_cursor(conn, workspace, source, cursor[0], cursor[1], now)
    figures.pages += 1


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
