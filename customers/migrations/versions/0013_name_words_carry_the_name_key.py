"""name words carry the name key

Each row of ``customer_name_words`` also holds its customer's name key (``match_name``),
so the customers sharing a word with a name are read with their keys in one index range:
a page's duplicate check read them by word and then, every one again, by id (at 10,000
customers a page of common words asked for nearly all of them, twenty queries of 500).
The rows are rewritten whenever the key changes, as the words themselves are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_name_words") as batch:
        batch.add_column(sa.Column("match_name", sa.Text(), nullable=True))
    op.execute(
        "UPDATE customer_name_words SET match_name = ("
        " SELECT customers.match_name FROM customers"
        " WHERE customers.id = customer_name_words.customer_id)"
    )
    # Words are written only for a customer with a name key: none is left without one.
    with op.batch_alter_table("customer_name_words") as batch:
        batch.alter_column("match_name", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_name_words") as batch:
        batch.drop_column("match_name")
