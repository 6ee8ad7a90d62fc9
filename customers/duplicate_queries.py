"""The database side of a duplicate check: which live customers have given keys.

Each function answers for many keys in one query (split only past ``CHUNK`` keys), so a
page of records costs a few queries, not a few per record. They read the match columns
that ``customers.match_columns`` keeps current, and see only customers with an id up to
``up_to``: those that existed when the check began (see ``customers.duplicates``).

Names are found by word: the customers whose name key contains a word of the name, as a
whole word, counted (up to ``cap``: a word shared by more says nothing about identity and
is skipped by the caller) and returned only when the length of their name key lies in a
window the caller gives: a name whose length is too far from the name checked cannot
reach the score of a likely match (see ``customers.duplicates``), so it is not sent. On
PostgreSQL with ``pg_trgm`` the trigram index finds the names that contain each word
(``LIKE '%word%'``), and of those the ones that have it as a whole word are kept. Without
the extension (and on SQLite) the tenant's name keys are read with one ``LIKE`` per word:
the same answer, without an index.

This module only reads.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select, text
from sqlalchemy.orm import Session

from customers.models import Customer

log = logging.getLogger(__name__)

CHUNK = 500
EXACT_COLUMNS = {
    "match_tax_id": Customer.match_tax_id,
    "match_email": Customer.match_email,
    "match_domain": Customer.match_domain,
}
# Whether each database (by URL) has pg_trgm: asked once per process.
_trigrams: dict[str, bool] = {}

# One row per customer in the word's length window, each with the word's count; a word
# whose count reached the cap (or with none in the window) sends one row, for its count.
_BY_WORD = text(
    """
    SELECT word.token, found.id, found.match_name, found.shared
    FROM unnest(
        CAST(:tokens AS text[]),
        CAST(:inside AS text[]),
        CAST(:whole AS text[]),
        CAST(:shortest AS integer[]),
        CAST(:longest AS integer[])
    ) AS word(token, inside, whole, shortest, longest)
    CROSS JOIN LATERAL (
        SELECT
            block.id,
            block.match_name,
            count(*) OVER () AS shared,
            row_number() OVER (
                ORDER BY length(block.match_name) BETWEEN word.shortest AND word.longest DESC
            ) AS place
        FROM (
            SELECT customers.id, customers.match_name
            FROM customers
            WHERE customers.match_name LIKE word.inside
              AND ' ' || customers.match_name || ' ' LIKE word.whole
              AND customers.tenant_id = :tenant_id
              AND customers.deleted_at IS NULL
              AND customers.id <= :up_to
            LIMIT :cap
        ) AS block
    ) AS found
    WHERE (
        found.shared < :cap
        AND length(found.match_name) BETWEEN word.shortest AND word.longest
    ) OR found.place = 1
    """
)


@dataclass(frozen=True)
class Shared:
    """The customers sharing a word: how many (up to the cap), and those of them whose name
    key's length is in the window asked for, as (id, name key)."""

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
                key.in_(values[start : start + CHUNK]),
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
    cap: int,
) -> dict[str, Shared]:
    """For each word (with the shortest and longest name key wanted), the live customers
    whose name key has it as a word."""
    tokens = sorted(windows)
    if _has_trigrams(session):
        found = _by_trigrams(session, tenant_id, up_to, tokens, windows, cap)
    else:
        found = _by_scan(session, tenant_id, up_to, tokens, windows, cap)
    return {token: found.get(token, Shared(0, [])) for token in tokens}


def _has_trigrams(session: Session) -> bool:
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    url = bind.engine.url.render_as_string(hide_password=True)
    if url not in _trigrams:
        installed = session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
        _trigrams[url] = installed is not None
        if not installed:
            log.warning(
                "pg_trgm is not installed in %s: duplicate names are found by reading "
                "the tenant's names, without the trigram index",
                bind.engine.url.database,
            )
    return _trigrams[url]


def _by_trigrams(
    session: Session,
    tenant_id: int,
    up_to: int,
    tokens: Sequence[str],
    windows: Mapping[str, tuple[int, int]],
    cap: int,
) -> dict[str, Shared]:
    found: dict[str, Shared] = {}
    for start in range(0, len(tokens), CHUNK):
        chunk = list(tokens[start : start + CHUNK])
        # A trigram index scan per word: the planner, costing it high, would read the
        # tenant's rows once per word instead (for this statement only).
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        rows = session.execute(
            _BY_WORD,
            {
                "tokens": chunk,
                "inside": [f"%{token}%" for token in chunk],
                "whole": [f"% {token} %" for token in chunk],
                "shortest": [windows[token][0] for token in chunk],
                "longest": [windows[token][1] for token in chunk],
                "tenant_id": tenant_id,
                "up_to": up_to,
                "cap": cap,
            },
        ).all()
        session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))
        session.execute(text("SET LOCAL enable_indexscan TO DEFAULT"))
        for token, customer_id, key, shared in rows:
            entry = found.setdefault(token, Shared(shared, []))
            shortest, longest = windows[token]
            if shared < cap and shortest <= len(key) <= longest:
                entry.named.append((customer_id, key))
    return found


def _by_scan(
    session: Session,
    tenant_id: int,
    up_to: int,
    tokens: Sequence[str],
    windows: Mapping[str, tuple[int, int]],
    cap: int,
) -> dict[str, Shared]:
    # Words hold only [a-z0-9.], so none is a LIKE wildcard.
    padded = literal(" ") + Customer.match_name + literal(" ")
    wanted = set(tokens)
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    seen: set[int] = set()
    for start in range(0, len(tokens), CHUNK):
        chunk = tokens[start : start + CHUNK]
        rows = session.execute(
            select(Customer.id, Customer.match_name).where(
                Customer.tenant_id == tenant_id,
                Customer.deleted_at.is_(None),
                Customer.id <= up_to,
                or_(*(padded.like(f"% {token} %") for token in chunk)),
            )
        )
        for customer_id, key in rows:
            if customer_id in seen or key is None:
                continue  # found by an earlier chunk, for all its words
            seen.add(customer_id)
            for token in set(key.split()) & wanted:
                found[token].append((customer_id, key))
    shared: dict[str, Shared] = {}
    for token, named in found.items():
        shortest, longest = windows[token]
        count = min(len(named), cap)
        in_window = [(i, key) for i, key in named if shortest <= len(key) <= longest]
        shared[token] = Shared(count, in_window if count < cap else [])
    return shared
