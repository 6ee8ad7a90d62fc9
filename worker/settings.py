"""Settings: one typed object, read from the environment (and an optional ``.env``) once.

Every variable is ``CRMSYNC_`` + the field name in capitals. Defaults run with nothing set:
a SQLite file in ``./data`` and the in-process broker. The README's configuration table
lists the same fields; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRMSYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("data"), description="Folder for the SQLite database and local state."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: a SQLite file crmsync.db in the data folder.",
    )
    tenant: str = Field(
        default="default", description="Tenant that CLI commands act on when --tenant is not given."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    broker_url: str | None = Field(
        default=None,
        description="Redis URL of the job broker, e.g. redis://127.0.0.1:6379/0. "
        "Default: an in-process broker with worker threads (one machine, no Redis).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for locks and API budgets shared by all processes. "
        "Default: the broker's Redis; in-process locks and budgets when there is none.",
    )
    worker_threads: int = Field(
        default=4, ge=1, le=64, description="Threads per worker process (and in-process worker)."
    )
    max_retries: int = Field(
        default=8,
        ge=0,
        le=50,
        description="Retries of a failing job before it becomes a failure row.",
    )
    retry_min_backoff_s: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles each attempt, with jitter."
    )
    retry_max_backoff_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two retries of a job."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not a logging level")
        return level

    @property
    def shared_redis_url(self) -> str | None:
        """Where locks and budgets live: ``redis_url``, else the broker's Redis, else none."""
        return self.redis_url or self.broker_url

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'crmsync.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
