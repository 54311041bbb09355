"""reason codes on audit events, runs and outbox rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000

Failures now carry a reason code (`syncd.failures.Reason`), and the advice shown for them is
looked up from it. Rows written before this revision get their code here, once, from their
stored class and message, using the message patterns syncd matched to pick advice until then.
The patterns are frozen in this file on purpose: later changes to syncd's wording must not
change what this migration did. After it, syncd matches no message text to find advice.

No index: every query that reads the code already selects its rows by run or by time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("audit_events", "sync_runs", "outbox")
_CHUNK = 2000

_HTTP_401 = r"\bHTTP 401\b|\bunauthori[sz]ed\b|\bAPI key (is )?invalid\b|\btoken (is )?expired\b"
_HTTP_403 = r"\bHTTP 403\b|\bforbidden\b|\bmissing (the )?scopes?\b"
_NOT_FOUND = (
    r"recordIdsMissing|\bnot_found\b|OBJECT_NOT_FOUND|no such contact|resource not found"
    r"|do(es)? not exist|no longer exists|\bHTTP 404\b"
)
_UNAVAILABLE = (
    r"\bHTTP 5\d\d\b|time(d )?out|no answer|connection (error|reset|refused|aborted)"
    r"|unavailable|request blocked"
)
_INVALID_EMAIL = (
    r"INVALID_EMAIL|invalid email|email address .{0,80}is invalid|looks fake or invalid"
)

#: (reason code, pattern, classes it applies to (empty: any), vendor it applies to), in match
#: order: vendor refusals that name their cause before the status they arrived with, and the
#: rules of the old advice table in its order, each given the code its advice now has.
RULES: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("member_compliance", r"in compliance state", (), None),
    ("member_forgotten", r"forgotten email", (), None),
    ("interrupted", r"^interrupted:|\bwas interrupted\b", (), None),
    ("superseded", r"\bsuperseded\b", (), None),
    ("target_shared", r"which syncd already keeps for", (), None),
    ("name_taken", r"not the one syncd created", (), None),
    ("create_refused", r"the API refused the create", (), None),
    (
        "target_kind_conflict",
        r"writes only MANUAL|is a (DYNAMIC|SNAPSHOT) list|is a \w+ segment|exists with type",
        (),
        None,
    ),
    ("audience_missing", r"audience .{0,80}does not exist", (), None),
    ("not_migrated", r"has no syncd schema|this syncd needs revision", (), None),
    ("database_unreachable", r"cannot open the database", (), None),
    ("auth_refused", _HTTP_401, (), None),
    ("scope_missing", _HTTP_403, (), None),
    ("rate_limited", r"\bHTTP 429\b|rate.?limit|too many requests", (), None),
    ("target_missing", r"\bHTTP 404\b|target_missing", ("transient",), None),
    ("vendor_unavailable", _UNAVAILABLE, (), None),
    ("no_email", r"no email address", (), None),
    ("invalid_email", _INVALID_EMAIL, (), None),
    ("duplicate_email", r"duplicate|already exists|\bCONFLICT\b|\bHTTP 409\b", (), None),
    ("not_in_audience", _NOT_FOUND, (), "mailchimp"),
    ("contact_deleted", _NOT_FOUND, (), None),
    ("bad_record_id", r"not a record id", (), None),
    ("batch_too_large", r"maximum allowed member items exceeded|\bHTTP 413\b", (), None),
    ("no_outcome", r"no outcome reported", (), None),
)
_COMPILED = tuple((c, re.compile(p, re.IGNORECASE), k, a) for c, p, k, a in RULES)
#: A failure whose message names no known cause gets its class's general code.
FALLBACK = {
    "config": "config_invalid",
    "transient": "temporary_failure",
    "rejected": "record_refused",
    "system": "internal",
}
_GAVE_UP = re.compile(r"^gave up after \d+ attempts:?\s*(.*)$", re.IGNORECASE | re.DOTALL)


def api_of(where: str | None, message: str) -> str | None:
    """The vendor named by a target key, else by the head of the message."""
    for text in (where, message):
        head = (text or "").strip().lower()
        for api in ("hubspot", "mailchimp"):
            if head.startswith(api):
                return api
    return None


def legacy_reason(error_class: str | None, message: str | None, where: str | None) -> str | None:
    """The reason code of a failure stored without one; None when it is no failure.

    A row syncd gave up retrying keeps the code of the cause its message names, looked up as
    the advice of such a row was: without its class, so an unknown cause stays without one.
    """
    text = (message or "").strip()
    gave_up = _GAVE_UP.match(text)
    if gave_up is not None:
        cause = gave_up.group(1)
        return _first(None, cause, api_of(where, cause)) if cause else None
    return _first(error_class, text, api_of(where, text))


def _first(error_class: str | None, text: str, api: str | None) -> str | None:
    for code, pattern, classes, only_api in _COMPILED:
        if classes and error_class not in classes:
            continue
        if only_api is not None and only_api != api:
            continue
        if pattern.search(text):
            return code
    return FALLBACK.get(error_class or "")


def _outbox_class(state: str) -> str | None:
    """The class an outbox row's `last_error` was written under, by the row's state."""
    return {"rejected": "rejected", "pending": "transient", "in_flight": "transient"}.get(state)


def _chunks(
    conn: sa.Connection, query: sa.Select[tuple[object, ...]]
) -> Iterator[list[sa.Row[object]]]:
    """`query`'s rows in id order, a chunk at a time (audit tables can be large)."""
    last = 0
    while True:
        rows = conn.execute(query.where(sa.column("id") > last).order_by("id").limit(_CHUNK)).all()
        if rows:
            yield rows
        if len(rows) < _CHUNK:
            return
        last = rows[-1][0]


def _store(conn: sa.Connection, name: str, codes: list[tuple[object, str | None]]) -> None:
    """Write the codes found for one chunk of rows of table `name`."""
    updates = [{"_id": row_id, "code": code} for row_id, code in codes if code is not None]
    if updates:
        table = sa.table(name, sa.column("id"), sa.column("reason_code"))
        statement = (
            table.update()
            .where(table.c.id == sa.bindparam("_id"))
            .values(reason_code=sa.bindparam("code"))
        )
        conn.execute(statement, updates)


def _backfill(conn: sa.Connection) -> None:
    """Give every failure row written before this revision its reason code."""
    a = sa.table(
        "audit_events", *map(sa.column, ("id", "outcome", "error_class", "message", "target"))
    )
    r = sa.table("sync_runs", *map(sa.column, ("id", "error_class", "error_message")))
    o = sa.table("outbox", *map(sa.column, ("id", "state", "last_error", "target")))
    failed = sa.or_(a.c.outcome.in_(("rejected", "retry")), a.c.error_class.is_not(None))
    query = sa.select(a.c.id, a.c.error_class, a.c.message, a.c.target).where(failed)
    for rows in _chunks(conn, query):
        _store(conn, "audit_events", [(i, legacy_reason(c, m, t)) for i, c, m, t in rows])
    ended = sa.or_(r.c.error_class.is_not(None), r.c.error_message.is_not(None))
    query = sa.select(r.c.id, r.c.error_class, r.c.error_message).where(ended)
    for rows in _chunks(conn, query):
        _store(conn, "sync_runs", [(i, legacy_reason(c, m, None)) for i, c, m in rows])
    noted = sa.and_(o.c.last_error.is_not(None), o.c.state != "done")
    query = sa.select(o.c.id, o.c.state, o.c.last_error, o.c.target).where(noted)
    for rows in _chunks(conn, query):
        codes = [(i, legacy_reason(_outbox_class(s), m, t)) for i, s, m, t in rows]
        _store(conn, "outbox", codes)


def upgrade() -> None:

    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
            )
    _backfill(op.get_bind())


def downgrade() -> None:

    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("reason_code")
