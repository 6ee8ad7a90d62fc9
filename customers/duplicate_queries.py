"""The database side of a duplicate check: which live customers have given keys.

Each function answers for many keys in one query (split only past ``CHUNK`` keys), so a
page of records costs a few queries, not a few per record. They read the match columns
that ``customers.match_columns`` keeps current, and see only customers with an id up to
``up_to``: those that existed when the check began (see ``customers.duplicates``).

Names are found by word, in ``customer_name_words`` (a row per word of each live
customer's name key, keyed by tenant, word and customer): one query counts the customers
of each word of a page, up to one past ``most``, in an index range per word that reads
no customer row; then the customers of the words shared by no more than ``most`` of them
(a word shared by more says nothing about identity, and the caller skips it) are read by
word, with their name keys, which each word's row carries.
Of those only the ones whose name key's length lies in the window the caller gives for
the word are kept: a name whose length is too far from the name checked cannot reach the
score of a likely match (see ``customers.duplicates``). Every query is the same SQL on
PostgreSQL and SQLite.

This module only reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from customers.db import one_of
from customers.models import Customer, CustomerNameWord

CHUNK = 500
EXACT_COLUMNS = {
    "match_tax_id": Customer.match_tax_id,
    "match_email": Customer.match_email,
    "match_domain": Customer.match_domain,
}


@dataclass(frozen=True)
class Shared:
    """The customers sharing a word: how many (one past the most the caller reads meaning
    more), and (unless they are more than it reads) those of them whose name key's length is in the window asked for, as (id, name
    key)."""

    count: int
    named: list[tuple[int, str]]


def newest_id(session: Session) -> int:
    """The newest customer id: what a check that begins now counts as existing."""
    return session.scalar(select(func.max(Customer.id))) or 0


def ids_by_key(
    session: Session, tenant_id: int, up_to: int, column: str, values: Sequence[str]
) -> dict[str, list[int]]:
    """The live customers whose ``column`` (one of ``EXACT_COLUMNS``) holds each value."""
    key = EXACT_COLUMNS[column]
    found: dict[str, list[int]] = defaultdict(list)
    for start in range(0, len(values), CHUNK):
        rows = session.execute(
            select(Customer.id, key).where(
                Customer.tenant_id == tenant_id,
                Customer.deleted_at.is_(None),
                Customer.id <= up_to,
                one_of(session, key, values[start : start + CHUNK]),
            )
        )
        for customer_id, value in rows:
            if value is not None:
                found[value].append(customer_id)
    return found


def names_by_word(
    session: Session,
    tenant_id: int,
    up_to: int,
    windows: Mapping[str, tuple[int, int]],
    most: int,
) -> dict[str, Shared]:
    """For each word (with the shortest and longest name key wanted), how many live
    customers have it in their name key (``most + 1`` meaning more than ``most``) and, if
    no more than ``most``, those of them with a name key in its window."""
    tokens = sorted(windows)
    counts = _counts(session, tenant_id, up_to, tokens, most)
    read = {token: windows[token] for token in tokens if 0 < counts.get(token, 0) <= most}
    named = _named(session, tenant_id, up_to, read)
    return {token: Shared(counts.get(token, 0), named.get(token, [])) for token in tokens}


def _counts(
    session: Session, tenant_id: int, up_to: int, tokens: Sequence[str], most: int
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(tokens), CHUNK):
        chunk = tokens[start : start + CHUNK]
        # Each word's index range is read no further than one past ``most``: a common word
        # costs as much as a word of ``most`` customers, however many share it.
        wanted = ", ".join(f"(:word_{n})" for n in range(len(chunk)))
        statement = text(
            f"""
            WITH wanted (word) AS (VALUES {wanted})
            SELECT wanted.word, (
                SELECT count(*) FROM (
                    SELECT 1 FROM customer_name_words AS words
                    WHERE words.tenant_id = :tenant_id
                      AND words.word = wanted.word
                      AND words.customer_id <= :up_to
                    LIMIT :cap
                ) AS capped
            )
            FROM wanted
            """
        ).bindparams(*(bindparam(f"word_{n}", token) for n, token in enumerate(chunk)))
        rows = session.execute(
            statement, {"tenant_id": tenant_id, "up_to": up_to, "cap": most + 1}
        ).all()
        counts.update((word, count) for word, count in rows)
    return counts


def _named(
    session: Session, tenant_id: int, up_to: int, windows: Mapping[str, tuple[int, int]]
) -> dict[str, list[tuple[int, str]]]:
    # One plain read by the words' own key, which carries each customer's name key: no join
    # for a planner to get wrong (a first sync fills the table from empty, faster than its
    # statistics follow), and no second read of the customers by id.
    words = CustomerNameWord.__table__.c
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    tokens = sorted(windows)
    for start in range(0, len(tokens), CHUNK):
        rows = session.execute(
            select(words.word, words.customer_id, words.match_name).where(
                words.tenant_id == tenant_id,
                one_of(session, words.word, tokens[start : start + CHUNK]),
                words.customer_id <= up_to,
            )
        )
        for token, customer_id, key in rows:
            shortest, longest = windows[token]
            if shortest <= len(key) <= longest:
                found[token].append((customer_id, key))
    return found
