from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from worker import database
from worker.cli import app
from worker.settings import get_settings

Cli = Callable[..., Result]


@pytest.fixture
def cli(engine: Engine, tenant_id: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """``crmsync`` in-process against the test database (SQLite and PostgreSQL), acting on
    the ``tenant_id`` fixture's tenant (whose customers need no billing address)."""
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRMSYNC_TENANT", "acme-books")
    get_settings.cache_clear()
    database.reset()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    database.reset()
    get_settings.cache_clear()
