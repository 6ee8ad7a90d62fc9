"""The duplicate index a page of CRM records is checked against, read from the database.

Every page of new CRM records is checked against what identifies each live customer (tax
id, email, domain, name). Each customer row carries those keys in indexed match columns,
so a page asks the database for the keys of its own records only: :func:`page_keys` gives
them, ``DuplicateIndex.prefetch`` reads them with one query per kind of key, and each
record is then checked from those answers. No process keeps a copy of the directory.

The page holds the tenant's creation guard (``service.guard_tenant``) before it reads, so
it sees every customer committed by anyone before it. What the page creates is added to
its index and found by the rest of the page; other pages see it once it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from connectors.base import RemoteRecord
from customers.duplicates import DuplicateIndex, Keys
from customers.errors import DirectoryError
from mappings import RemoteValueError


def directory_index(session: Session, tenant_id: int) -> DuplicateIndex:
    """This page's view of the tenant's live customers, to check its records against."""
    return DuplicateIndex.load(session, tenant_id)


def page_keys(
    values_of: Callable[[RemoteRecord], Mapping[str, Any]], records: Iterable[RemoteRecord]
) -> list[Keys]:
    """The keys of the records of a page, as their checks will ask for them, from each
    record's local values (``PageContext.local_values``); a record whose values do not map
    has none: the page's own path reports it."""
    keys: list[Keys] = []
    for record in records:
        try:
            values = values_of(record)
        except (DirectoryError, RemoteValueError):
            continue
        keys.append(
            Keys(
                values.get("name"), values.get("email"), values.get("domain"), values.get("tax_id")
            )
        )
    return keys
