"""The match columns of a customer row: the keys its duplicates are found by, kept current.

A customer is found as a duplicate by its normalized tax id, its lower-case email, its
registrable company domain and its name key (``customers.match_keys``). They are stored
in the row (``match_tax_id``, ``match_email``, ``match_domain``, ``match_name``), indexed
per tenant, so the database answers a duplicate check and no process holds the directory
in memory.

They are worked out from the row's own values whenever it is written:

- through the ORM (``service.create_customer``, ``service.update_customer`` and every
  other change of a loaded customer), by the mapper hooks below, before the row is
  inserted or updated;
- through a multi-row INSERT of the table (``service.create_customers``), which the ORM
  does not see: the caller adds :func:`match_values` to each row.

A Core UPDATE of ``name``, ``email``, ``domain`` or ``tax_id`` would bypass both, so none
may be written; change a customer through the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from customers.fields import normalize_tax_id
from customers.match_keys import company_domain, name_key
from customers.models import MATCH_COLUMNS, Customer

# The values each match column is worked out from.
SOURCES = ("name", "email", "domain", "tax_id")

__all__ = ["MATCH_COLUMNS", "SOURCES", "match_values"]


def match_values(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The match columns of a customer with these values (absent ones count as empty)."""
    name, email, domain = values.get("name"), values.get("email"), values.get("domain")
    return {
        "match_tax_id": normalize_tax_id(values.get("tax_id")),
        "match_email": email.lower() if email else None,
        "match_domain": company_domain(domain, email),
        "match_name": (name_key(name) or None) if name else None,
    }


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
