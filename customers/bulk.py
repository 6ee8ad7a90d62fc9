"""Writing many rows at once: multi-row INSERTs with their new ids, in row order.

The service layer (``customers.service``, ``customers.contacts``) decides what may be
written; this module only writes it in as few round trips as the database allows. It
validates nothing and must not be called with rows the service has not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session


def table_rows(
    table: Table, items: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rows with the same keys (so one multi-row INSERT serves the whole batch), limited to
    the columns some row sets: a narrower statement is much cheaper for the server to plan."""
    used = {key for item in items for key in item} | set(defaults)
    keys = [column.key for column in table.columns if column.key in used and column.key != "id"]
    return [{key: item.get(key, defaults.get(key)) for key in keys} for item in items]


def insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in bulk; their new ids, in row order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # One multi-row INSERT ... RETURNING. SQLite inserts a VALUES list in order, each
        # row taking the next rowid while this transaction holds the write lock, so the
        # sorted ids are in row order (SQLAlchemy would keep the order only row by row).
        return sorted(session.scalars(insert(table).returning(table.c.id), rows))
    # PostgreSQL: take the ids from the table's sequence first, then insert with them as a
    # pipelined executemany; a multi-row INSERT ... RETURNING costs psycopg far more to
    # build and parse than the rows cost to write.
    ids = list(
        session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(rows)},
        )
    )
    session.execute(insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)])
    return ids
