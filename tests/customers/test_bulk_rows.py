"""Rows written in bulk (``customers.bulk.insert_rows``) are the rows ``insert()`` writes.

On PostgreSQL they go by COPY, which takes values in its own text format: every table
written that way gets values of each of its column types (text that needs escaping, time
zones, exact amounts, JSON, NULL beside the text ``\\N``), and reads back equal to the same
rows written by an INSERT. A violated constraint is the same ``IntegrityError``, a
savepoint around it rolls back and leaves the session usable, and a failure names no value
the INSERT's would not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Engine, Table, insert, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from customers import db
from customers.bulk import insert_returning_ids, insert_rows
from customers.models import (
    Contact,
    Customer,
    CustomerNameWord,
    CustomerReference,
    CustomerTag,
    OutboxEntry,
)
from customers.service import get_tenant
from customers.sync_state import Connection, ExternalLink
from tests.conftest import _truncate

# Text COPY has to escape or quote all of these: tab, newline, backslash, quotes, the
# NULL marker \N as plain text, and letters outside ASCII.
AWKWARD = 'Zoë\t"Quote", it\'s a back\\slash, \\N, and a\nsecond line'
BERLIN = ZoneInfo("Europe/Berlin")


def table_of(model: type) -> Table:
    return cast(Table, model.__table__)


def sample_value(table: Table, key: str, index: int) -> Any:
    """A value of the column's type; NULL where it may be, for an odd row."""
    column = table.c[key]
    if index % 2 and column.nullable:
        return None
    if isinstance(column.type, JSON):
        return {"words": [AWKWARD, index, 2.5, True, None], "nested": {"ü": AWKWARD}}
    type_ = column.type
    kind = (type_.impl_instance if isinstance(type_, TypeDecorator) else type_).python_type
    if kind is str:
        length = getattr(column.type, "length", None)
        return f"{index}{AWKWARD}"[:length]
    if kind is bool:
        return index % 3 != 1
    if kind is int:
        return 40 + index
    if kind is float:
        return 0.125 + index
    if kind is Decimal:
        return Decimal("12.5") + index
    if kind is datetime:
        # Around the hour Berlin's clocks go forward, given in Berlin's time: stored as UTC.
        moment = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC) + timedelta(hours=index)
        return moment.astimezone(BERLIN)
    raise AssertionError(f"no sample for {table.name}.{key} ({kind})")


def sample_rows(
    table: Table, fixed: dict[str, Any], count: int = 3, leave_out: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Rows with a value for every column but the id and those left out."""
    keys = [c.key for c in table.columns if c.key != "id" and c.key not in leave_out]
    return [
        {key: fixed[key] if key in fixed else sample_value(table, key, index) for key in keys}
        for index in range(count)
    ]


def read(session: Session, table: Table) -> list[dict[str, Any]]:
    """The table's rows, ids left out (a sequence gives each write its own)."""
    rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
    return [{key: value for key, value in row.items() if key != "id"} for row in rows]


def written(
    session: Session, table: Table, rows: list[dict[str, Any]], *, bulk: bool
) -> list[dict[str, Any]]:
    """What the rows read back as once written, by insert_rows or by insert(); rolled
    back after, so the next write starts from the same state."""
    with session.begin_nested() as savepoint:
        if bulk:
            insert_rows(session, table, rows)
        else:
            session.execute(insert(table), rows)
        stored = read(session, table)
        savepoint.rollback()
    return stored


@pytest.fixture
def parents(sessions: sessionmaker[Session], tenant_id: int) -> dict[str, int]:
    """A customer to hang rows on, and a CRM connection for links."""
    with db.transaction(sessions) as session:
        customer = Customer(tenant_id=tenant_id, name="Parent", version=1)
        connection = Connection(
            tenant_id=tenant_id, provider="hubspot", account_id="48215730", name="portal"
        )
        session.add_all([customer, connection])
        session.flush()
        return {"tenant_id": tenant_id, "customer_id": customer.id, "connection_id": connection.id}


TABLES = {
    "customers": (Customer, ("tenant_id",)),
    "contacts": (Contact, ("tenant_id", "customer_id")),
    "customer_name_words": (CustomerNameWord, ("tenant_id", "customer_id")),
    "customer_references": (CustomerReference, ("tenant_id", "customer_id")),
    "customer_tags": (CustomerTag, ("tenant_id", "customer_id")),
    "outbox": (OutboxEntry, ("tenant_id",)),
    "external_links": (ExternalLink, ("connection_id",)),
}


@pytest.mark.parametrize("name", TABLES)
def test_rows_read_back_as_an_insert_writes_them(
    sessions: sessionmaker[Session], parents: dict[str, int], name: str
) -> None:
    model, foreign = TABLES[name]
    table = table_of(model)
    fixed: dict[str, Any] = {key: parents[key] for key in foreign}
    if name == "customers":
        fixed["legal_entity_id"] = None
    rows = sample_rows(table, fixed)
    with db.transaction(sessions) as session:
        before = read(session, table)
        copied = written(session, table, rows, bulk=True)
        inserted = written(session, table, rows, bulk=False)
    assert copied == inserted
    assert [row for row in copied if row not in before] == rows


def test_left_out_columns_get_their_python_defaults(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    # The sync's outbox rows for what it pushes name neither the time nor the connection.
    table = table_of(OutboxEntry)
    rows = sample_rows(
        table, {"tenant_id": tenant_id}, leave_out=("created_at", "fields", "origin_connection_id")
    )
    with db.transaction(sessions) as session:
        start = datetime.now(BERLIN)
        copied = written(session, table, rows, bulk=True)
        inserted = written(session, table, rows, bulk=False)
    for row in copied:
        assert row["created_at"] >= start
        assert row["created_at"].utcoffset() == timedelta(0)
    stripped = [{key: value for key, value in row.items() if key != "created_at"} for row in copied]
    assert stripped == [
        {key: value for key, value in row.items() if key != "created_at"} for row in inserted
    ]
    assert [row["fields"] for row in copied] == [[], [], []]
    assert [row["origin_connection_id"] for row in copied] == [None, None, None]


def test_new_ids_come_back_in_row_order(sessions: sessionmaker[Session], tenant_id: int) -> None:
    table = table_of(CustomerReference)
    with db.transaction(sessions) as session:
        customer = Customer(tenant_id=tenant_id, name="Parent", version=1)
        session.add(customer)
        session.flush()
        rows = [
            {"tenant_id": tenant_id, "customer_id": customer.id, "system": "erp", "reference": ref}
            for ref in ("K-3", "K-1", "K-2", "K-10")
        ]
        ids = insert_returning_ids(session, table, rows)
        stored = dict(session.execute(select(table.c.id, table.c.reference)).all())
    assert [stored[id_] for id_ in ids] == ["K-3", "K-1", "K-2", "K-10"]


def test_a_duplicate_key_rolls_back_to_the_savepoint(
    sessions: sessionmaker[Session], parents: dict[str, int]
) -> None:
    table = table_of(CustomerTag)
    keys = {"tenant_id": parents["tenant_id"], "customer_id": parents["customer_id"]}
    with db.transaction(sessions) as session:
        insert_rows(session, table, [{**keys, "tag": "vip"}])
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_rows(session, table, [{**keys, "tag": tag} for tag in ("new", "gold", "vip")])
        # The transaction goes on as if the failed batch had not been tried.
        insert_rows(session, table, [{**keys, "tag": "after"}])
    with sessions() as session:
        tags = session.scalars(select(table.c.tag).order_by(table.c.id)).all()
    assert tags == ["vip", "after"]


def test_a_duplicate_within_the_batch_writes_none_of_it(
    sessions: sessionmaker[Session], parents: dict[str, int]
) -> None:
    table = table_of(CustomerNameWord)
    keys = {"tenant_id": parents["tenant_id"], "customer_id": parents["customer_id"]}
    rows = [{**keys, "word": word} for word in ("acme", "books", "acme")]
    with db.transaction(sessions) as session:
        before = read(session, table)
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_rows(session, table, rows)
        assert read(session, table) == before


@pytest.mark.postgres
def test_a_refused_value_is_not_in_the_error(postgres_engine: Engine) -> None:
    # COPY's own error context quotes the line and value it refused; an INSERT's error does
    # not, and neither may a bulk write's: errors are logged, and values are customer data.
    _truncate(postgres_engine)
    sessions = db.session_factory(postgres_engine)
    secret = "s3cret-" + "x" * 60  # longer than a tag may be
    with pytest.raises(DataError) as caught, db.transaction(sessions) as session:
        tenant_id = get_tenant(session, "acme-books").id
        customer = Customer(tenant_id=tenant_id, name="Parent", version=1)
        session.add(customer)
        session.flush()
        rows = [
            {"tenant_id": tenant_id, "customer_id": customer.id, "tag": tag}
            for tag in ("one", "two", secret)
        ]
        insert_rows(session, table_of(CustomerTag), rows)
    assert "value too long" in str(caught.value)
    assert "s3cret" not in str(caught.value)
