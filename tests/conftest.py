"""Shared fixtures: a fresh, migrated database on SQLite and on PostgreSQL.

PostgreSQL tests need `SYNCD_TEST_POSTGRES_URL` (for example
`postgresql+psycopg://postgres@127.0.0.1:5432/test`). Without it they are skipped with that
reason; with `SYNCD_REQUIRE_POSTGRES=1` (set by CI) a missing or unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from syncd.sandbox import Limits, Sandbox
from syncd.store import make_engine, upgrade
from syncd.store.db import normalise_url
from tests.support.sandboxes import start_sandbox

PG_ENV = "SYNCD_TEST_POSTGRES_URL"


def _require_postgres() -> bool:
    return os.environ.get("SYNCD_REQUIRE_POSTGRES", "") not in ("", "0")


def postgres_admin_url() -> str:
    """The server URL from the environment, or skip (fail in CI) with the reason."""
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://USER@HOST:PORT/DB"
        if _require_postgres():
            pytest.fail(reason)
        pytest.skip(reason)
    return normalise_url(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new empty PostgreSQL database, dropped after the test."""
    admin_url = postgres_admin_url()
    name = f"syncd_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any driver error means 'not reachable'
        admin.dispose()
        reason = f"PostgreSQL at {PG_ENV} is not reachable: {exc}"
        if _require_postgres():
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL (no schema) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'syncd.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A migrated database URL on each backend."""
    upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database on each backend."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes (`start_sandbox`'s arguments); every one is stopped after the test."""
    started: list[Sandbox] = []

    def make(contacts: int, seed: int, limits: Limits | None = None) -> Sandbox:
        sb = start_sandbox(contacts, seed, limits)
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()
