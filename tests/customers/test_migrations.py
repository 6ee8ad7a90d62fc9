"""The schema comes only from migrations, and they match the models on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import customers.console_users
import customers.sync_state  # noqa: F401
from customers import db
from customers.models import Base


def test_upgrade_from_empty_reaches_head_with_every_table(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_empty_and_up_again(engine: Engine) -> None:
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()


def test_failure_rows_take_their_tenant_when_the_column_arrives(engine: Engine) -> None:
    """0006: a failure row of a connection takes the connection's tenant, a categorize
    failure its customer's; one with neither belongs to no tenant (no tenant sees it)."""
    from sqlalchemy import text

    db.downgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, slug, name, created_at) VALUES (7, 'seven', 'Seven', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO connections (id, tenant_id, provider, account_id, name, settings, auto_create, status, created_at, updated_at) "
                "VALUES (3, 7, 'hubspot', '1', 'p', '{}', true, 'active', '2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO customers (id, tenant_id, name, customer_type, status, custom_properties, version, created_at, updated_at) "
                "VALUES (5, 7, 'Acme', 'business', 'active', '{}', 1, '2026-01-01', '2026-01-01')"
            )
        )
        for failure_id, connection_id, direction, local_id in (
            (1, 3, "inbound", None),
            (2, None, "categorize", 5),
            (3, None, "inbound", None),
        ):
            connection.execute(
                text(
                    "INSERT INTO sync_failures (id, connection_id, direction, local_id, error_class, message, attempts, first_failed_at, last_failed_at, payload, status) "
                    "VALUES (:id, :connection_id, :direction, :local_id, 'permanent', 'm', 1, '2026-01-01', '2026-01-01', '{}', 'open')"
                ),
                {
                    "id": failure_id,
                    "connection_id": connection_id,
                    "direction": direction,
                    "local_id": local_id,
                },
            )
    db.upgrade(engine)
    with engine.connect() as connection:
        tenants = dict(
            connection.execute(text("SELECT id, tenant_id FROM sync_failures ORDER BY id")).all()
        )  # type: ignore[arg-type]
    assert tenants == {1: 7, 2: 7, 3: None}


def test_name_words_take_their_customers_name_key_when_the_column_arrives(
    engine: Engine,
) -> None:
    """0012 writes the words of existing customers; 0013 gives each its customer's name
    key."""
    from sqlalchemy import text

    db.downgrade(engine, "0011")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenants (id, slug, name, created_at) VALUES (7, 'seven', 'Seven', '2026-01-01')")
        )  # fmt: skip
        for customer_id, name, key in (
            (5, "Acme Robotics", "acme robotics"),
            (6, "Globex", "globex"),
        ):
            connection.execute(
                text(
                    "INSERT INTO customers (id, tenant_id, name, match_name, customer_type, status, custom_properties, version, created_at, updated_at) "
                    "VALUES (:id, 7, :name, :key, 'business', 'active', '{}', 1, '2026-01-01', '2026-01-01')"
                ),
                {"id": customer_id, "name": name, "key": key},
            )  # fmt: skip
    db.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT word, customer_id, match_name FROM customer_name_words ORDER BY word")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("acme", 5, "acme robotics"),
        ("globex", 6, "globex"),
        ("robotics", 5, "acme robotics"),
    ]
