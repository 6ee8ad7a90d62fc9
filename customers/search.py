"""Finding customers: exact on id and email, fuzzy on name.

Fuzzy matching uses rapidfuzz's WRatio over the tenant's live customer names. Names are
fetched as (id, name) pairs only, so even a large directory is scored in memory quickly;
rapidfuzz does the scoring in C.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.models import Customer

MIN_SCORE = 60.0


@dataclass(frozen=True)
class Match:
    customer: Customer
    score: float
    matched_on: str  # id | email | name


@dataclass(frozen=True)
class SearchPage:
    matches: list[Match]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_customers(
    session: Session,
    tenant_id: int,
    query: str,
    *,
    page: int = 1,
    per_page: int = 20,
    include_archived: bool = True,
) -> SearchPage:
    """Customers matching ``query``, best first: an id or an email matches exactly, anything
    else fuzzily by name (typos, word order and legal suffixes are forgiven)."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1")
    text = query.strip()
    live = select(Customer).where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    if not include_archived:
        live = live.where(Customer.archived_at.is_(None))
    exact: list[Match] = []
    if text.isdigit():
        exact = [
            Match(c, 100.0, "id") for c in session.scalars(live.where(Customer.id == int(text)))
        ]
    elif "@" in text:
        exact = [
            Match(c, 100.0, "email")
            for c in session.scalars(
                live.where(Customer.email == text.lower()).order_by(Customer.id)
            )
        ]
    if exact or text.isdigit() or "@" in text:
        return SearchPage(
            exact[(page - 1) * per_page : page * per_page], len(exact), page, per_page
        )

    names = session.execute(live.with_only_columns(Customer.id, Customer.name)).all()
    scored = process.extract(
        text,
        {row.id: row.name for row in names},
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=MIN_SCORE,
        limit=None,
    )
    scored.sort(key=lambda item: (-item[1], item[0], item[2]))
    window = scored[(page - 1) * per_page : page * per_page]
    by_id = {
        c.id: c for c in session.scalars(live.where(Customer.id.in_([key for _, _, key in window])))
    }
    matches = [Match(by_id[key], round(score, 1), "name") for _, score, key in window]
    return SearchPage(matches, len(scored), page, per_page)
