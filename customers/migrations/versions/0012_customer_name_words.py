"""customer name words

The words of each live customer's name key (``match_name``), one row each, keyed by
(tenant, word, customer): the customers sharing a word with a name are found by an index
range, and counted without reading their rows. Existing customers' words are written
here, with the same function that keeps them current on every write.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from customers.match_columns import name_word_rows

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CHUNK = 1_000


def upgrade() -> None:
    op.create_table(
        "customer_name_words",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_name_words_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_name_words_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "word", "customer_id", name=op.f("pk_customer_name_words")
        ),
    )
    op.create_index("ix_customer_name_words_customer_id", "customer_name_words", ["customer_id"])
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer()),
        sa.column("tenant_id", sa.Integer()),
        sa.column("match_name", sa.Text()),
        sa.column("deleted_at", sa.DateTime()),
    )
    words = sa.table(
        "customer_name_words",
        sa.column("tenant_id", sa.Integer()),
        sa.column("word", sa.Text()),
        sa.column("customer_id", sa.Integer()),
    )
    rows = bind.execute(
        sa.select(customers.c.id, customers.c.tenant_id, customers.c.match_name)
        .where(customers.c.deleted_at.is_(None), customers.c.match_name.is_not(None))
        .order_by(customers.c.id)
    ).all()
    for start in range(0, len(rows), CHUNK):
        chunk = [
            {column: word[column] for column in ("tenant_id", "word", "customer_id")}
            for row in rows[start : start + CHUNK]
            for word in name_word_rows(row.tenant_id, row.id, row.match_name)
        ]  # the columns of this revision (later ones add more)
        if chunk:
            bind.execute(sa.insert(words), chunk)


def downgrade() -> None:
    op.drop_index("ix_customer_name_words_customer_id", table_name="customer_name_words")
    op.drop_table("customer_name_words")
