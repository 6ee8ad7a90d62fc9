"""The process's database engine and sessions, built once from settings."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from worker.settings import get_settings


@cache
def engine() -> Engine:
    return db.make_engine(get_settings().resolved_database_url)


@cache
def sessions() -> sessionmaker[Session]:
    return db.session_factory(engine())


def reset() -> None:
    """Forget the engine (after settings changed, e.g. in tests)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()
    sessions.cache_clear()
