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

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not a logging level")
        return level

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'crmsync.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
