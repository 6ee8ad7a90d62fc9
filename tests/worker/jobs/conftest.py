from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection
from worker import database
from worker.settings import get_settings


@pytest.fixture
def migrated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the worker's settings at a fresh, migrated SQLite database."""
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRMSYNC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    database.reset()
    db.upgrade(database.engine())
    with db.transaction(database.sessions()) as session:
        tenant = get_tenant(session, "default")
        for connection_id in (3, 5, 7):
            session.add(Connection(id=connection_id, tenant_id=tenant.id, provider="hubspot",
                                   account_id=str(connection_id), name=f"portal {connection_id}"))  # fmt: skip
    yield tmp_path
    database.reset()
    get_settings.cache_clear()
