"""Fixtures for the operator commands: ``crmsync`` run in-process (typer's CliRunner)
against a migrated database (SQLite and PostgreSQL) holding connections and failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from customers import db
from customers.service import get_tenant
from customers.sync_state import Connection
from tests.services import require_redis
from worker import database
from worker.cli import app
from worker.settings import get_settings


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    for name in ("CRMSYNC_BROKER_URL", "CRMSYNC_REDIS_URL", "CRMSYNC_TENANT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    database.reset()
    yield Cli()
    database.reset()
    get_settings.cache_clear()


@pytest.fixture
def broker_mode(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI as it runs with a broker: it only sends jobs. This process's broker stays the
    in-memory one, so a test can read what was sent."""
    monkeypatch.setenv("CRMSYNC_BROKER_URL", require_redis())
    get_settings.cache_clear()


@pytest.fixture
def connection_ids(sessions: sessionmaker[Session]) -> dict[str, int]:
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "default")
        other_tenant = get_tenant(session, "someone-else")
        rows = {
            "hubspot": Connection(tenant_id=tenant.id, provider="hubspot", account_id="48215730", name="portal"),
            "salesforce": Connection(tenant_id=tenant.id, provider="salesforce", account_id="00D5J0000000001AAA", name="org"),
            "foreign": Connection(tenant_id=other_tenant.id, provider="hubspot", account_id="999", name="not ours"),
        }  # fmt: skip
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}
