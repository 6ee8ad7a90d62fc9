"""link remote_written_at

When our last write to a linked CRM record landed, by the CRM's clock (HubSpot answers it;
Salesforce does not). A write must not replace an edit made after the later of this and
``remote_modified_at`` unseen, and our own last write is no such edit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import customers.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("external_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "remote_written_at", customers.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("external_links", schema=None) as batch_op:
        batch_op.drop_column("remote_written_at")
