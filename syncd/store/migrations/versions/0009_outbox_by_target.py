"""the outbox indexed by run and target, for apply to read it a page at a time

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 16:00:00.000000

Apply reads each target's pending rows of a run in pages ordered by id, instead of loading
the whole run (millions of rows at a million contacts). `(run_id, target, id)` makes each page
a short range scan on both databases.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_run_target", "outbox", ["run_id", "target", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_run_target", table_name="outbox")
