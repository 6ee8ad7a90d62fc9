"""Settings come from the environment (and .env), with defaults that run with nothing set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.settings import Settings


def test_defaults_use_a_sqlite_file_in_the_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CRMSYNC_DATA_DIR", "CRMSYNC_DATABASE_URL", "CRMSYNC_TENANT", "CRMSYNC_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.resolved_database_url == "sqlite:///data/crmsync.db"
    assert (settings.tenant, settings.log_level) == ("default", "INFO")


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CRMSYNC_TENANT=acme\nCRMSYNC_LOG_LEVEL=debug\n")
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", "postgresql+psycopg://u@db/crm")
    monkeypatch.delenv("CRMSYNC_TENANT", raising=False)
    monkeypatch.delenv("CRMSYNC_LOG_LEVEL", raising=False)
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/crm"
    assert (settings.tenant, settings.log_level) == ("acme", "DEBUG")


def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMSYNC_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError, match="log_level"):
        Settings()


def test_retention_defaults_and_empty_or_zero_keeps_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    assert (
        settings.retention_webhook_events_days, settings.retention_outbox_days,
        settings.retention_runs_days, settings.retention_failures_days,
    ) == (14, 30, 90, 90)  # fmt: skip
    monkeypatch.setenv("CRMSYNC_RETENTION_WEBHOOK_EVENTS_DAYS", "")
    monkeypatch.setenv("CRMSYNC_RETENTION_RUNS_DAYS", "0")
    settings = Settings()
    assert (settings.retention_webhook_events_days, settings.retention_runs_days) == (None, 0)
    monkeypatch.setenv("CRMSYNC_RETENTION_RUNS_DAYS", "-1")
    with pytest.raises(ValidationError, match="retention_runs_days"):
        Settings()


def test_log_format_empty_is_the_default_and_anything_else_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRMSYNC_LOG_FORMAT", "")  # an uncommented, empty line of .env.example
    assert Settings().log_format is None
    monkeypatch.setenv("CRMSYNC_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        Settings()


def test_a_wrong_setting_is_one_line_naming_it_and_never_its_value(tmp_path: Path) -> None:
    # It was a pydantic traceback at import, with the value (a secret key here) in it.
    environment = {
        **os.environ,
        "CRMSYNC_DATA_DIR": str(tmp_path),
        "CRMSYNC_CONSOLE_SECRET_KEY": "too-short-but-secret",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "customers", "list"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "error: CRMSYNC_CONSOLE_SECRET_KEY: " in result.stderr
    assert "too-short-but-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
