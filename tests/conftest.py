"""Fixtures shared by every test: migrated databases on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Queue

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from customers import db
from customers.models import Base
from customers.service import get_tenant
from tests.services import require_postgres

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def _in_process_queues_start_empty() -> Iterator[None]:
    """Jobs one test queued on the process-wide in-memory broker must not run in the next."""
    from dramatiq.brokers.stub import StubBroker

    from worker.jobs.broker import broker

    def reset() -> None:
        if isinstance(broker, StubBroker):
            broker.flush_all()
            # New queues: a message a test took off by hand would otherwise leave the old
            # queue's unfinished count above zero, and every later join would wait forever.
            for name in list(broker.queues):
                broker.queues[name] = Queue()

    reset()
    yield
    reset()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A fresh PostgreSQL database for this test session, migrated from empty."""
    admin_url = make_url(require_postgres())
    name = f"crmsync_test_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(admin_url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = db.make_engine(admin_url.set(database=name).render_as_string(hide_password=False))
    db.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "crmsync.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = db.make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        _truncate(engine)
        yield engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def tenant_id(sessions: sessionmaker[Session]) -> int:
    """A tenant whose customers need no billing address: the tests that use it are about
    other things. The rule itself (on for a new tenant) is tested with tenants of its own
    (``tests/customers/test_billing.py``)."""
    with db.transaction(sessions) as session:
        tenant = get_tenant(session, "acme-books")
        tenant.require_billing_address = False
        return tenant.id
