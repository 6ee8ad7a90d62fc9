"""duplicate reviews

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:53:40.990730
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import customers.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column(
            "candidates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", customers.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", customers.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_duplicate_reviews_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_duplicate_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_reviews")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "external_id",
            name=op.f("uq_duplicate_reviews_connection_id_object_type_external_id"),
        ),
    )
    with op.batch_alter_table("duplicate_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_duplicate_reviews_tenant_status", ["tenant_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("duplicate_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_reviews_tenant_status")

    op.drop_table("duplicate_reviews")
