"""Fixtures shared by the sync tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.sync_state import Connection
from tests.conftest import _truncate
from tests.services import require_redis
from tests.worker.sync.processes import KEY, Workers


def hubspot_connection(
    sessions: sessionmaker[Session], tenant_id: int, account_id: str = "4711"
) -> int:
    """A HubSpot connection of the tenant to this portal; its id."""
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider="hubspot", account_id=account_id, name="portal"
        )
        session.add(connection)
        session.flush()
        return connection.id


@pytest.fixture
def connection_id(sessions: sessionmaker[Session], tenant_id: int) -> int:
    return hubspot_connection(sessions, tenant_id)


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = require_redis()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def env(postgres_engine: Engine, redis_url: str, tmp_path: Path) -> dict[str, str]:
    _truncate(postgres_engine)
    return {
        **os.environ,
        "CRMSYNC_DATABASE_URL": postgres_engine.url.render_as_string(hide_password=False),
        "CRMSYNC_BROKER_URL": redis_url,
        "CRMSYNC_ENCRYPTION_KEY": KEY,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    running = Workers(env, tmp_path)
    yield running
    running.stop_all()
