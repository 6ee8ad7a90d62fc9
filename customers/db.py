"""Engines, sessions and schema migrations for SQLite and PostgreSQL.

The schema is only ever made by the Alembic migrations in ``customers/migrations`` (never
``create_all``), so every database — the demo's SQLite file, a test's PostgreSQL, a
production server — has the same tables, indexes and constraints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, String, any_, event, literal, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; for a SQLite file, the folder is made and the connection is
    set up for concurrent readers and enforced foreign keys."""
    parsed = make_url(url)
    # Statement parameters never appear in error messages or logs: they hold customer data,
    # webhook tokens and payloads, and a logged DBAPIError would otherwise print them.
    # sqlalchemy.create_engine is looked up when called, so tracing's instrumentation
    # (worker.tracing), set up after this module is imported, sees every engine.
    if parsed.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, begins transactions (see _begin_immediate).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # A deferred transaction that read first cannot become a writer once another writer
        # committed: SQLite fails it at once instead of waiting. Taking the write lock at
        # BEGIN makes writers queue on the busy timeout (one machine, few writers).
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits if the block ends normally, rolls back on any error."""
    with factory() as session, session.begin():
        yield session


# The tables a sync reads by key while it fills them: a first sync's reads of links,
# customers, contacts and name words are planned from their statistics.
ANALYZE_LOCK_WAIT_S = 5
SYNC_TABLES = (
    "customers",
    "contacts",
    "customer_name_words",
    "external_links",
    "duplicate_reviews",
    "outbox",
)


def refresh_statistics(session: Session, tables: tuple[str, ...] = SYNC_TABLES) -> None:
    """``ANALYZE`` these tables (PostgreSQL; nothing on SQLite, whose planner takes an
    index on an equality without statistics), as PostgreSQL's manual advises after a bulk
    load. A table filled from empty by one sync keeps the statistics of an empty table
    until the autovacuum daemon, if it runs, gets to it: the planner then reads a batch of
    100 links by scanning every link of the connection (measured: 56 ms a batch at 96,000
    links against 0.2 ms). A table the database user does not own is skipped with a
    warning by PostgreSQL itself, not an error."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # A VACUUM or ANALYZE of one of them holds the lock ANALYZE takes: wait a little, not
    # for as long as an anti-wraparound vacuum may run (the caller lets this one go).
    session.execute(text(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_WAIT_S}s'"))
    session.execute(text(f"ANALYZE {', '.join(tables)}"))


def one_of(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (values)``, as PostgreSQL best takes it: ``column = ANY(:values)``, one
    array parameter, so the statement's text is the same for any number of values. An
    ``IN`` of 500 parameters is a statement of its own for each length: psycopg converts
    its text again at every call (it caches none with more than 50 parameters) and the
    server parses and plans it again. SQLite gets the ``IN`` list."""
    if session.get_bind().dialect.name == "postgresql":
        # The array's items as plain VARCHAR, as IN binds them: a cast to the column's
        # VARCHAR(64) would cut a longer value to one that may match another row.
        item = String() if isinstance(column.type, String) else column.type
        return cast(ColumnElement[bool], column == any_(literal(list(values), ARRAY(item))))
    return cast(ColumnElement[bool], column.in_(values))


# Advisory lock spaces: PostgreSQL's two-key form, (space, id), so ids of different kinds
# never share a lock.
LOCK_CONNECTION = 1  # one writer per connection: its pages, pushes, archives and links
LOCK_TENANT = 2  # one creator of customers (and linker of CRM records to them) per tenant
LOCK_WAIT_S = 120  # longer than any transaction that holds one of them (a page, a push batch)


def lock_for_transaction(session: Session, space: int, key: int) -> None:
    """Hold PostgreSQL's advisory lock ``(space, key)`` until this transaction ends.

    Held by the database, not by a key in Redis that a restart erases: a transaction that
    takes it waits for the one holding it to commit or roll back, and a holder that dies
    frees it with its connection. Taking it again in the same transaction is a no-op. A
    wait longer than ``LOCK_WAIT_S`` fails the statement (a transient error: the job is
    retried). SQLite needs none: every write transaction begins ``IMMEDIATE`` and so is
    the only writer of the whole database until it ends.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # One round trip: the timeout is set for this transaction (set_config's ``true``: SET
    # LOCAL) before the lock is asked for, in the row the subquery yields or, should the
    # planner fold it in, to the left of it in the same row.
    session.execute(
        text(
            "SELECT timeout.value, pg_advisory_xact_lock(:space, :key) "
            "FROM (SELECT set_config('lock_timeout', :wait, true) AS value) AS timeout"
        ),
        {"space": space, "key": key, "wait": f"{LOCK_WAIT_S}s"},
    )


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
