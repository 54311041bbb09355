"""holds per target and the alerts already sent

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 13:20:00.000000

A guard now holds the targets it tripped on, not the whole run: `holds` keeps one row per
hold until a person decides, and outbox rows of a held target wait in the new state `held`.
`alerts_sent` remembers when each distinct alert last went out, to suppress repeats.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", _STR(length=64), nullable=False),
        sa.Column("target", _STR(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("planned_by_run", sa.Integer(), nullable=True),
        sa.Column("reason", _STR(length=512), nullable=False),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", _STR(length=128), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["sync_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_holds_workspace_status", "holds", ["workspace", "status"])
    op.create_table(
        "alerts_sent",
        sa.Column("workspace", _STR(length=64), nullable=False),
        sa.Column("key", _STR(length=64), nullable=False),
        sa.Column("event", _STR(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace", "key"),
    )


def downgrade() -> None:
    op.drop_table("alerts_sent")
    op.drop_index("ix_holds_workspace_status", table_name="holds")
    op.drop_table("holds")
