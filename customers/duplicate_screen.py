"""Screening the rows of an import for duplicates before they are written.

A row that is surely the same business as a live customer, or as an earlier row of the
same file (same tax id or company domain; a taken email is skipped before this), is
refused: the importer skips it, naming the match, unless duplicates are allowed. A row
that is likely the same (a similar name) is imported with a warning.

The tenant's customers are found in the database (their match columns), with one query
per kind of key for each batch of rows; the index sees the customers that existed when the
import began. Accepted rows are indexed in memory under the negative of their row number,
so a match below zero is a row of the file. This module reads the database and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.duplicates import Candidate, DuplicateIndex, Keys
from customers.models import Customer


def _keys(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: fields.get(key) for key in ("name", "email", "domain", "tax_id")}


@dataclass(frozen=True)
class DuplicateWarning:
    row: int
    reason: str


@dataclass(frozen=True)
class Screened:
    """What the screen made of a batch: the rows to write, and why the others were not."""

    accepted: list[int]
    refused: dict[int, str]
    warnings: list[DuplicateWarning]


class DuplicateScreen:
    """The duplicate check of one import, over the tenant's customers and its own rows."""

    def __init__(self, index: DuplicateIndex, *, allow: bool) -> None:
        self.index = index
        self.allow = allow

    @classmethod
    def load(cls, session: Session, tenant_id: int | None, *, allow: bool) -> DuplicateScreen:
        index = DuplicateIndex() if tenant_id is None else DuplicateIndex.load(session, tenant_id)
        return cls(index, allow=allow)

    def screen(self, session: Session, rows: Iterable[tuple[int, dict[str, Any]]]) -> Screened:
        """Check each row (its number and cleaned fields), in order; an accepted row is
        remembered, so a later row that duplicates it is found."""
        accepted: list[int] = []
        refused: dict[int, str] = {}
        warnings: list[DuplicateWarning] = []
        batch = list(rows)
        self.index.use(session)  # each batch is written in a transaction of its own
        self.index.prefetch([Keys(**_keys(fields)) for _number, fields in batch])
        for number, fields in batch:
            keys = _keys(fields)
            check = self.index.check(**keys, exclude=[-number])
            if check.sure is not None and not self.allow:
                refused[number] = f"{self._label(session, check.sure)} is the same business"
                refused[number] += f" ({', '.join(check.sure.reasons)})"
                continue
            for candidate in ([check.sure] if check.sure else []) + list(check.likely):
                kind = "sure" if candidate is check.sure else "likely"
                reason = f"{kind} duplicate of {self._label(session, candidate)}"
                warnings.append(
                    DuplicateWarning(number, f"{reason} ({', '.join(candidate.reasons)})")
                )
            self.index.add(-number, **keys)
            accepted.append(number)
        return Screened(accepted, refused, warnings)

    @staticmethod
    def _label(session: Session, candidate: Candidate) -> str:
        if candidate.customer_id < 0:
            return f"row {-candidate.customer_id} of this file"
        name = session.scalar(select(Customer.name).where(Customer.id == candidate.customer_id))
        return f"customer {candidate.customer_id} {name!r}"
