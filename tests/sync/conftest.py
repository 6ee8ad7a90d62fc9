"""Fixtures shared by the sync tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.sync_state import Connection


@pytest.fixture
def connection_id(sessions: sessionmaker[Session], tenant_id: int) -> int:
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider="hubspot", account_id="4711", name="portal"
        )
        session.add(connection)
        session.flush()
        return connection.id
