"""The database side of a duplicate check: which live customers have given keys.

Each function answers for many keys in one query (split only past ``CHUNK`` keys), so a
page of records costs a few queries, not a few per record. They read the match columns
that ``customers.match_columns`` keeps current, and see only customers with an id up to
``up_to``: those that existed when the check began (see ``customers.duplicates``).

Names are found by word: the customers whose name key contains a word of the name, as a
whole word. On PostgreSQL with ``pg_trgm`` that is a regular expression the trigram index
answers, at most ``cap`` customers per word (a word shared by more says nothing about
identity and is skipped by the caller). Without the extension (and on SQLite) the tenant's
name keys are read with one ``LIKE`` per word: the same answer, without an index.

This module only reads.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence

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

_BY_WORD = text(
    """
    SELECT word.token, found.id, found.match_name
    FROM unnest(CAST(:tokens AS text[]), CAST(:patterns AS text[])) AS word(token, pattern)
    CROSS JOIN LATERAL (
        SELECT customers.id, customers.match_name
        FROM customers
        WHERE customers.match_name ~ word.pattern
          AND customers.tenant_id = :tenant_id
          AND customers.deleted_at IS NULL
          AND customers.id <= :up_to
        LIMIT :cap
    ) AS found
    """
)


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
    session: Session, tenant_id: int, up_to: int, tokens: Sequence[str], cap: int
) -> dict[str, list[tuple[int, str]]]:
    """For each word, the live customers (id, name key) whose name key has it as a word;
    at least ``cap`` of them when as many exist (all of them without pg_trgm)."""
    if _has_trigrams(session):
        return _by_trigrams(session, tenant_id, up_to, tokens, cap)
    return _by_scan(session, tenant_id, up_to, tokens)


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
    session: Session, tenant_id: int, up_to: int, tokens: Sequence[str], cap: int
) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for start in range(0, len(tokens), CHUNK):
        chunk = list(tokens[start : start + CHUNK])
        rows = session.execute(
            _BY_WORD,
            {
                "tokens": chunk,
                "patterns": [f"(^| ){re.escape(token)}( |$)" for token in chunk],
                "tenant_id": tenant_id,
                "up_to": up_to,
                "cap": cap,
            },
        )
        for token, customer_id, key in rows:
            found[token].append((customer_id, key))
    return found


def _by_scan(
    session: Session, tenant_id: int, up_to: int, tokens: Sequence[str]
) -> dict[str, list[tuple[int, str]]]:
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
    return found
