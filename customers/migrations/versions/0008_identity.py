"""identity and invoice delivery

Aliases unique per tenant
-------------------------

A customer reference (system, reference) becomes an alias that names one customer of a
tenant: the rows take their customer's tenant, the system is stored trimmed and
lower-cased and the reference trimmed, and (tenant, system, reference) is unique.

Existing rows are cleaned carefully: rows that become equal for the same customer (the
same reference typed as ``Billing`` and ``billing``) are one reference, and the later
copies are removed. Rows that name two different customers of a tenant are not guessed
at: the upgrade stops and lists them, so a person can decide which customer the
reference belongs to, and nothing is changed.

Invoice delivery
----------------
A customer's sender and reply-to addresses, its invoice recipients and copies (lists,
empty for existing customers); a contact's communications (a list, empty), department and
notes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _refuse_shared_references(connection: sa.Connection) -> None:
    shared = connection.execute(
        sa.text(
            "SELECT c.tenant_id, lower(trim(r.system)) AS system, trim(r.reference) AS reference, "
            "min(r.customer_id) AS first_customer, max(r.customer_id) AS last_customer "
            "FROM customer_references r JOIN customers c ON c.id = r.customer_id "
            "GROUP BY c.tenant_id, lower(trim(r.system)), trim(r.reference) "
            "HAVING count(DISTINCT r.customer_id) > 1 ORDER BY 1, 2, 3"
        )
    ).all()
    if shared:
        listed = "; ".join(
            f"tenant {row.tenant_id}: {row.system}:{row.reference} "
            f"(customers {row.first_customer} and {row.last_customer})"
            for row in shared[:20]
        )
        raise RuntimeError(
            f"{len(shared)} customer reference(s) point at more than one customer of a "
            f"tenant, which an alias may not: {listed}. Keep each on one customer "
            "(delete the other rows from customer_references), then upgrade again."
        )


def upgrade() -> None:
    connection = op.get_bind()
    _refuse_shared_references(connection)
    # Equal once trimmed and lower-cased, for one customer: one reference, kept once.
    op.execute(
        "DELETE FROM customer_references WHERE id NOT IN (SELECT min(id) FROM "
        "customer_references GROUP BY customer_id, lower(trim(system)), trim(reference))"
    )
    op.execute(
        "UPDATE customer_references SET system = lower(trim(system)), reference = trim(reference)"
    )
    with op.batch_alter_table("customer_references", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE customer_references SET tenant_id = (SELECT customers.tenant_id FROM customers "
        "WHERE customers.id = customer_references.customer_id)"
    )
    with op.batch_alter_table("customer_references", schema=None) as batch_op:
        batch_op.alter_column("tenant_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_customer_references_tenant_id_tenants"),
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(
            op.f("uq_customer_references_customer_id_system_reference"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_customer_references_tenant_id_system_reference"),
            ["tenant_id", "system", "reference"],
        )
    _add_delivery_columns()


def _add_delivery_columns() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_sender_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("invoice_reply_to", sa.String(length=320), nullable=True))
        for name in ("invoice_recipients", "invoice_cc"):
            batch_op.add_column(
                sa.Column(
                    name,
                    sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                    server_default="[]",
                    nullable=False,
                )
            )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "communications",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("department", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))


def _drop_delivery_columns() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        for name in ("notes", "department", "communications"):
            batch_op.drop_column(name)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in (
            "invoice_cc",
            "invoice_recipients",
            "invoice_reply_to",
            "invoice_sender_email",
        ):
            batch_op.drop_column(name)


def downgrade() -> None:
    _drop_delivery_columns()
    with op.batch_alter_table("customer_references", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_customer_references_tenant_id_system_reference"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_customer_references_customer_id_system_reference"),
            ["customer_id", "system", "reference"],
        )
        batch_op.drop_constraint(
            op.f("fk_customer_references_tenant_id_tenants"), type_="foreignkey"
        )
        batch_op.drop_column("tenant_id")
