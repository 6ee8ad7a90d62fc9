"""Alembic environment: runs migrations on the engine handed over by ``customers.db``."""

from __future__ import annotations

from alembic import context

import customers.console_users  # registers the console users table
import customers.sync_state  # noqa: F401  (registers the sync tables on the metadata)
from customers.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
