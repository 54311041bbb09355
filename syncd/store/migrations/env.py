"""Alembic environment: runs migrations on the connection syncd hands over, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import syncd.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection when given (so tests and `syncd db upgrade` share it)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with db.begin() as conn:
        _run(conn)
    db.dispose()


run_migrations_online()
