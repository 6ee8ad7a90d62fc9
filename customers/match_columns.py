"""The match columns of a customer row: the keys its duplicates are found by, kept current.

A customer is found as a duplicate by its normalized tax id, its lower-case email, its
registrable company domain and its name key (``customers.match_keys``). They are stored
in the row (``match_tax_id``, ``match_email``, ``match_domain``, ``match_name``), indexed
per tenant, so the database answers a duplicate check and no process holds the directory
in memory. The words of a live customer's name key are also rows of
``customer_name_words`` (:func:`name_words`): the customers sharing a word with a name
are found, and counted, by index. A soft-deleted customer has no words, as it is no
candidate.

They are worked out from the row's own values whenever it is written:

- through the ORM (``service.create_customer``, ``service.update_customer``,
  ``service.delete_customer`` and every other change of a loaded customer), by the mapper
  hooks below: the columns before the row is inserted or updated, its words after;
- through a bulk write of the table (``service.create_customers``, by ``customers.bulk``),
  which the ORM does not see: the caller adds :func:`match_values` to each row and writes
  :func:`name_word_rows` once it has the ids.

A Core UPDATE of ``name``, ``email``, ``domain``, ``tax_id`` or ``deleted_at`` would
bypass both, so none may be written; change a customer through the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, delete, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session

from customers.bulk import insert_rows
from customers.fields import normalize_tax_id
from customers.match_keys import company_domain, name_key
from customers.models import MATCH_COLUMNS, Customer, CustomerNameWord

# The values each match column is worked out from.
SOURCES = ("name", "email", "domain", "tax_id")
# What, changed, changes a customer's rows in ``customer_name_words``.
_WORDS_FROM = ("tenant_id", "match_name", "deleted_at")
NAME_WORDS = cast(Table, CustomerNameWord.__table__)

__all__ = [
    "MATCH_COLUMNS",
    "NAME_WORDS",
    "SOURCES",
    "match_values",
    "name_word_rows",
    "name_words",
    "write_name_words",
]


def match_values(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The match columns of a customer with these values (absent ones count as empty)."""
    name, email, domain = values.get("name"), values.get("email"), values.get("domain")
    return {
        "match_tax_id": normalize_tax_id(values.get("tax_id")),
        "match_email": email.lower() if email else None,
        "match_domain": company_domain(domain, email),
        "match_name": (name_key(name) or None) if name else None,
    }


def name_words(match_name: str | None) -> set[str]:
    """The words a customer with this name key is found under: the significant tokens of
    its name (``customers.duplicates`` blocks names by them)."""
    return set(match_name.split()) if match_name else set()


def name_word_rows(
    tenant_id: int, customer_id: int, match_name: str | None
) -> list[dict[str, Any]]:
    """The ``customer_name_words`` rows of a live customer."""
    return [
        {"tenant_id": tenant_id, "word": word, "customer_id": customer_id, "match_name": match_name}
        for word in sorted(name_words(match_name))
    ]


def write_name_words(executor: Connection | Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``customer_name_words`` rows (of :func:`name_word_rows`), if any."""
    insert_rows(executor, NAME_WORDS, rows)


def _fill(target: Customer) -> None:
    values = match_values({source: getattr(target, source) for source in SOURCES})
    for column, value in values.items():
        if getattr(target, column) != value:
            setattr(target, column, value)


@event.listens_for(Customer, "before_insert")
def _before_insert(_mapper: Mapper[Customer], _connection: Connection, target: Customer) -> None:
    _fill(target)


@event.listens_for(Customer, "before_update")
def _before_update(_mapper: Mapper[Customer], _connection: Connection, target: Customer) -> None:
    state = inspect(target)
    if any(state.attrs[source].history.has_changes() for source in SOURCES):
        _fill(target)


@event.listens_for(Customer, "after_insert")
def _after_insert(_mapper: Mapper[Customer], connection: Connection, target: Customer) -> None:
    if target.deleted_at is None:
        write_name_words(connection, name_word_rows(target.tenant_id, target.id, target.match_name))


@event.listens_for(Customer, "after_update")
def _after_update(_mapper: Mapper[Customer], connection: Connection, target: Customer) -> None:
    state = inspect(target)
    if not any(state.attrs[column].history.has_changes() for column in _WORDS_FROM):
        return
    connection.execute(delete(NAME_WORDS).where(NAME_WORDS.c.customer_id == target.id))
    if target.deleted_at is None:
        write_name_words(connection, name_word_rows(target.tenant_id, target.id, target.match_name))
