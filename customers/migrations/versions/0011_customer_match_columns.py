"""customer match columns

Customers carry the keys their duplicates are found by (normalized tax id, lower-case
email, registrable company domain, name key), indexed per tenant, so a duplicate check is
a query instead of an index every worker process holds in memory. Existing rows are
filled here, with the same functions that keep the columns current on every write.
The name key is not indexed here: its words are (0012).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from customers.match_columns import match_values

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CHUNK = 1_000
EXACT_KEYS = ("match_tax_id", "match_email", "match_domain")


def upgrade() -> None:
    op.add_column("customers", sa.Column("match_tax_id", sa.String(length=64), nullable=True))
    op.add_column("customers", sa.Column("match_email", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("match_domain", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("match_name", sa.Text(), nullable=True))
    _backfill()
    for column in EXACT_KEYS:
        op.create_index(f"ix_customers_tenant_{column}", "customers", ["tenant_id", column])


def _backfill() -> None:
    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("domain", sa.String()),
        sa.column("tax_id", sa.String()),
        sa.column("match_tax_id", sa.String()),
        sa.column("match_email", sa.String()),
        sa.column("match_domain", sa.String()),
        sa.column("match_name", sa.Text()),
    )
    rows = bind.execute(
        sa.select(
            customers.c.id,
            customers.c.name,
            customers.c.email,
            customers.c.domain,
            customers.c.tax_id,
        ).order_by(customers.c.id)
    ).all()
    statement = (
        sa.update(customers)
        .where(customers.c.id == sa.bindparam("row_id"))
        .values(
            match_tax_id=sa.bindparam("match_tax_id"),
            match_email=sa.bindparam("match_email"),
            match_domain=sa.bindparam("match_domain"),
            match_name=sa.bindparam("match_name"),
        )
    )
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        bind.execute(
            statement,
            [{"row_id": row.id, **match_values(dict(row._mapping))} for row in chunk],
        )


def downgrade() -> None:
    for column in EXACT_KEYS:
        op.drop_index(f"ix_customers_tenant_{column}", table_name="customers")
    # Native DROP COLUMN on both databases (SQLite 3.35+): a batch rebuild of customers
    # would delete the rows that reference it.
    for column in ("match_name", *reversed(EXACT_KEYS)):
        op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
