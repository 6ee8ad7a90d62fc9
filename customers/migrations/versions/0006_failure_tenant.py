"""failure tenant

A failure row names its tenant. Failures tied to no connection (categorization) were
shown to, and replayed or dismissed by, every tenant. Existing rows take the tenant of
their connection, or of their customer; a row that has neither belongs to no tenant and
no tenant sees it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_sync_failures_tenant_id_tenants"),
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_sync_failures_tenant_status", ["tenant_id", "status"], unique=False
        )
    op.execute(
        "UPDATE sync_failures SET tenant_id = (SELECT connections.tenant_id FROM connections "
        "WHERE connections.id = sync_failures.connection_id) WHERE connection_id IS NOT NULL"
    )
    op.execute(
        "UPDATE sync_failures SET tenant_id = (SELECT customers.tenant_id FROM customers "
        "WHERE customers.id = sync_failures.local_id) "
        "WHERE connection_id IS NULL AND direction = 'categorize'"
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_failures_tenant_status")
        batch_op.drop_constraint(op.f("fk_sync_failures_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_column("tenant_id")
