from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from worker import database
from worker.cli import app
from worker.settings import get_settings


class Cli:
    """Runs ``crmsync`` in-process against a fresh data folder."""

    def __init__(self, runner: CliRunner) -> None:
        self.runner = runner

    def __call__(self, *args: str) -> object:
        return self.runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRMSYNC_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    database.reset()
    yield Cli(CliRunner())
    database.reset()
    get_settings.cache_clear()


def upgraded(cli: Cli) -> None:
    """Migrate the data folder's database, and let the default tenant's customers go without
    a billing address: the tests that use this are about other things. The rule itself (on
    for a new tenant) is tested in ``test_billing_cli.py``."""
    for args in (("db", "upgrade"), ("tenants", "set", "default", "--no-require-billing-address")):
        result: Any = cli(*args)
        assert result.exit_code == 0, result.stderr
