"""typed custom properties, tags, tax and billing settings

Tenants declare custom property keys (label, group, type, options); customers carry a set
of tags, one row per tag so a tag can be searched by index. Customers get tax and billing
settings and a legal entity (one of the tenant's own billing entities); tenants say
whether customers added by hand need a billing address (on, also for existing tenants).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from customers.types import Percent, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Tables whose rows reference customers and outlive this revision's downgrade.
REFERENCING_CUSTOMERS = ("contacts", "customer_references")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "custom_property_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=True),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_custom_property_definitions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_property_definitions")),
        sa.UniqueConstraint(
            "tenant_id", "key", name=op.f("uq_custom_property_definitions_tenant_id_key")
        ),
    )
    op.create_table(
        "customer_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_tags_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tags")),
        sa.UniqueConstraint("customer_id", "tag", name=op.f("uq_customer_tags_customer_id_tag")),
    )
    op.create_index("ix_customer_tags_tenant_id_tag", "customer_tags", ["tenant_id", "tag"])
    op.create_table(
        "legal_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_legal_entities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_entities")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_legal_entities_tenant_id_code")),
    )
    # Plain ADD COLUMN, never a batch rebuild: on SQLite a rebuild drops the old table,
    # and with foreign keys on that deletes every row referencing it (ON DELETE CASCADE).
    op.add_column(
        "tenants",
        sa.Column(
            "require_billing_address",
            sa.Boolean(),
            server_default=sa.text("true"),
            nullable=False,
        ),
    )
    for column in _billing_columns():
        if column.name != "legal_entity_id":
            op.add_column("customers", column)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            # SQLite cannot add a constraint to a table, only a column that has one.
            "ALTER TABLE customers ADD COLUMN legal_entity_id INTEGER "
            "REFERENCES legal_entities (id)"
        )
    else:
        op.add_column("customers", sa.Column("legal_entity_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_customers_legal_entity_id_legal_entities"),
            "customers",
            "legal_entities",
            ["legal_entity_id"],
            ["id"],
        )
    op.create_index(op.f("ix_customers_legal_entity_id"), "customers", ["legal_entity_id"])


def _billing_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    def flag(name: str, default: str) -> sa.Column:  # type: ignore[type-arg]
        return sa.Column(name, sa.Boolean(), server_default=sa.text(default), nullable=False)

    return [
        sa.Column("tax_rate", Percent(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("tax_country", sa.String(length=2), nullable=True),
        sa.Column(
            "tax_exemption", sa.String(length=16), server_default=sa.text("'none'"), nullable=False
        ),
        sa.Column("tax_exemption_reason", sa.String(length=200), nullable=True),
        sa.Column("legal_entity_id", sa.Integer(), nullable=True),
        sa.Column(
            "invoicing_flow",
            sa.String(length=16),
            server_default=sa.text("'automatic'"),
            nullable=False,
        ),
        flag("auto_pay", "false"),
        flag("notify_invoice_issued", "true"),
        flag("notify_payment_reminder", "true"),
        flag("notify_payment_received", "true"),
        flag("portal_enabled", "false"),
        sa.Column("sales_rep_email", sa.String(length=320), nullable=True),
        sa.Column("sales_rep_name", sa.String(length=200), nullable=True),
    ]


def downgrade() -> None:
    op.drop_index(op.f("ix_customers_legal_entity_id"), table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        # Native DROP COLUMN (SQLite 3.35+) where it can: a batch rebuild drops the old
        # table, and with foreign keys on that deletes the rows referencing it (or, for
        # RESTRICT, refuses). A column with a foreign key can only go with a rebuild, so
        # the rows that reference customers are kept aside and put back.
        for column in _billing_columns():
            if column.name != "legal_entity_id":
                op.execute(f"ALTER TABLE customers DROP COLUMN {column.name}")
        op.execute("ALTER TABLE tenants DROP COLUMN require_billing_address")
        for table in REFERENCING_CUSTOMERS:
            op.execute(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
            op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table("customers", schema=None) as batch_op:
            batch_op.drop_column("legal_entity_id")
        for table in REFERENCING_CUSTOMERS:
            op.execute(f"INSERT INTO {table} SELECT * FROM kept_{table}")
            op.execute(f"DROP TABLE kept_{table}")
    else:
        op.drop_constraint(
            op.f("fk_customers_legal_entity_id_legal_entities"), "customers", type_="foreignkey"
        )
        for column in _billing_columns():
            op.drop_column("customers", column.name)
        op.drop_column("tenants", "require_billing_address")
    op.drop_table("legal_entities")
    op.drop_index("ix_customer_tags_tenant_id_tag", table_name="customer_tags")
    op.drop_table("customer_tags")
    op.drop_table("custom_property_definitions")
