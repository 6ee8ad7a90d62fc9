"""Writing many rows at once (:func:`insert_rows`), and their new ids in row order
(:func:`insert_returning_ids`).

The service layer (``customers.service``, ``customers.contacts``) decides what may be
written; this module only writes it in as few round trips, and with as little of the
worker's CPU, as the database allows. It validates nothing and must not be called with rows
the service has not checked.

On PostgreSQL a batch is written with ``COPY ... FROM STDIN`` on the connection of the
current transaction, so it commits, or rolls back to a savepoint, with everything else. It
writes what ``insert(table)`` would: each value goes through its column type's bind
processing, Python-side defaults fill the columns the rows leave out, and a failure is
raised as SQLAlchemy's exception for it (``IntegrityError`` for a violated constraint),
carrying no value the failing INSERT would not have shown. SQLite gets an INSERT executed
with all the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Table, insert, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def table_rows(
    table: Table, items: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rows with the same keys (so one statement serves the whole batch), limited to the
    columns some row sets: a narrower statement is much cheaper for the server to plan."""
    used = {key for item in items for key in item} | set(defaults)
    keys = [column.key for column in table.columns if column.key in used and column.key != "id"]
    return [{key: item.get(key, defaults.get(key)) for key in keys} for item in items]


def insert_rows(
    executor: Session | Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows, all with the same keys, in one go: what ``insert(table)`` executed with
    them writes, by COPY on PostgreSQL."""
    if not rows:
        return
    connection = executor.connection() if isinstance(executor, Session) else executor
    # Even one row costs the worker less CPU and time by COPY than by psycopg's pipelined
    # executemany (which spends some 60 µs a row), so there is no batch too small for it.
    keys = list(rows[0])
    filled = _filled(table, keys) if connection.dialect.driver == "psycopg" else None
    if filled is None:
        executor.execute(insert(table), list(rows))
        return
    _copy(connection, table, rows, [table.c[key] for key in keys], filled)


def _filled(table: Table, keys: Sequence[str]) -> list[Column[Any]] | None:
    """The columns the rows leave out that ``insert()`` fills in for each row, from their
    Python-side defaults; None when one of those is a SQL expression or a sequence, which
    only an INSERT can evaluate."""
    filled = []
    for column in table.columns:
        default = column.default
        if column.key in keys or default is None:
            continue
        if not (default.is_scalar or default.is_callable):
            return None
        filled.append(column)
    return filled


def _copy(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    columns: list[Column[Any]],
    filled: list[Column[Any]],
) -> None:
    dialect = connection.dialect
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.format_column(column) for column in [*columns, *filled])
    statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
    given = [(column.key, _bind(column, dialect)) for column in columns]
    defaults = [(column.default, _bind(column, dialect)) for column in filled]
    try:
        values = []
        for row in rows:
            line = [row[key] if bind is None else bind(row[key]) for key, bind in given]
            line.extend(_default_value(default, bind) for default, bind in defaults)
            values.append(line)
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for line in values:
                copy.write_row(line)
    except Exception as error:
        raise _translated(error, statement, dialect) from None


def _bind(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of this column before handing it to the driver
    (e.g. ``UTCDateTime``'s conversion to UTC, JSON wrapped for psycopg), or None."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _default_value(default: Any, bind: Callable[[Any], Any] | None) -> Any:
    # Called without an execution context: a default that reads one cannot be copied.
    value = default.arg if default.is_scalar else default.arg(None)
    return value if bind is None else bind(value)


def _translated(error: Exception, statement: str, dialect: Dialect) -> Exception:
    """The exception SQLAlchemy raises for this error of a statement: ``IntegrityError``
    for a violated constraint, ``StatementError`` for a value no bind processing takes."""
    dbapi_error = dialect.loaded_dbapi.Error
    if isinstance(error, dbapi_error):
        error = _without_context(error)
    return DBAPIError.instance(
        statement, None, error, dbapi_error, hide_parameters=True, dialect=dialect
    )


def _without_context(error: Any) -> Any:
    """The server's error without its CONTEXT, which for a COPY quotes the line and the
    value that failed (``COPY customers, line 3, column name: "..."``): only the message,
    detail and hint an INSERT's error would have shown."""
    diag = error.diag
    if diag.message_primary is None:  # raised by the driver itself, not by the server
        return error
    parts = [diag.message_primary]
    if diag.message_detail:
        parts.append(f"DETAIL:  {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"HINT:  {diag.message_hint}")
    return type(error)("\n".join(parts))


def insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in bulk; their new ids, in row order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # One multi-row INSERT ... RETURNING. SQLite inserts a VALUES list in order, each
        # row taking the next rowid while this transaction holds the write lock, so the
        # sorted ids are in row order (SQLAlchemy would keep the order only row by row).
        return sorted(session.scalars(insert(table).returning(table.c.id), rows))
    # PostgreSQL: take the ids from the table's sequence first, then write the rows with
    # them; a multi-row INSERT ... RETURNING costs psycopg far more to build and parse than
    # the rows cost to write.
    ids = list(
        session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(rows)},
        )
    )
    insert_rows(session, table, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)])
    return ids
