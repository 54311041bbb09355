"""segment history: per-run snapshots and each member's stay in a segment

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:00:00.000000

`segment_snapshots` keeps, per run and segment, size, entered, exited, holdout size and KPI
moments (members and holdout apart); `segment_member_sets` each segment's members at the last
run (compressed ids, one row per segment); `segment_stints` each contact's stays in the
segments that measure something (success or holdout), whether it was held out, and when it met
the segment's success condition.
(down_revision points at 0005 on the branch; the merge re-points it at 0006.)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "segment_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("exited", sa.Integer(), nullable=False),
        sa.Column("holdout_size", sa.Integer(), nullable=False),
        sa.Column(
            "kpis", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["run_id"], ["sync_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("segment_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_snapshots_workspace_segment_at",
            ["workspace", "segment", "at"],
            unique=False,
        )
    op.create_table(
        "segment_stints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("success_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("segment_stints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_stints_open", ["workspace", "segment", "exited_at"], unique=False
        )
        batch_op.create_index("ix_segment_stints_contact", ["contact_id"], unique=False)
    op.create_table(
        "segment_member_sets",
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("ids", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace", "segment"),
    )


def downgrade() -> None:

    op.drop_table("segment_member_sets")
    op.drop_table("segment_stints")
    op.drop_table("segment_snapshots")
