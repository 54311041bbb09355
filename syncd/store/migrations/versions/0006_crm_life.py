"""identity by stable ids: emails become attributes; deleted targets are remembered

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00.000000

A profile is one HubSpot record and/or one Mailchimp member, found by their ids, never by
address: two records may share an address (a case variant, an address reused after another
contact gave it up), so `contacts.email` is no longer unique. Each source's own address is kept:
`email` is HubSpot's while the profile has a HubSpot record (else Mailchimp's), and
`mailchimp_email` is the member's own, the address Mailchimp is written at. `mailchimp_key` is
the member's `contact_id`, which survives a change of address (the subscriber hash does not).
`remote_targets.deleted_at` marks an owned list or tag a person deleted, while syncd waits
(`on_deleted_target: stop`) rather than recreating it.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contacts_workspace_email", type_="unique")
        batch_op.add_column(
            sa.Column("mailchimp_email", sqlmodel.sql.sqltypes.AutoString(length=320))
        )
        batch_op.add_column(sa.Column("mailchimp_key", sqlmodel.sql.sqltypes.AutoString(length=64)))
        batch_op.create_index("ix_contacts_workspace_email", ["workspace", "email"])
        batch_op.create_index("ix_contacts_workspace_mailchimp_email", ["workspace", "mailchimp_email"])
        batch_op.create_index("ix_contacts_workspace_mailchimp_key", ["workspace", "mailchimp_key"])
    # Until now a member's address was the profile's address.
    op.execute("UPDATE contacts SET mailchimp_email = email WHERE mailchimp_id IS NOT NULL")
    with op.batch_alter_table("remote_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remote_targets", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_workspace_mailchimp_key")
        batch_op.drop_index("ix_contacts_workspace_mailchimp_email")
        batch_op.drop_index("ix_contacts_workspace_email")
        batch_op.drop_column("mailchimp_key")
        batch_op.drop_column("mailchimp_email")
        batch_op.create_unique_constraint("uq_contacts_workspace_email", ["workspace", "email"])
