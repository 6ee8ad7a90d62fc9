"""Finding customers: exact on id, email and alias, fuzzy on name.

Fuzzy matching uses rapidfuzz's WRatio over the tenant's live customer names. Names are
fetched as (id, name) pairs only, so even a large directory is scored in memory quickly;
rapidfuzz does the scoring in C.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.aliases import customers_named
from customers.models import Customer
from customers.types import as_id

MIN_SCORE = 60.0


@dataclass(frozen=True)
class Match:
    customer: Customer
    score: float
    matched_on: str  # id | email | alias | name


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
    """Customers matching ``query``, best first: an id, an email or an alias (``erp:C-1001``,
    or the reference ``C-1001`` of any system) matches exactly, anything else fuzzily by
    name (typos, word order and legal suffixes are forgiven)."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1")
    # No stored value holds a NUL (PostgreSQL text cannot), so none can match one; and
    # PostgreSQL refuses it as a query parameter.
    text = query.replace("\x00", "").strip()
    live = select(Customer).where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    if not include_archived:
        live = live.where(Customer.archived_at.is_(None))
    exact: list[Match] = []
    if "@" in text:
        exact = [
            Match(c, 100.0, "email")
            for c in session.scalars(
                live.where(Customer.email == text.lower()).order_by(Customer.id)
            )
        ]
        return SearchPage(
            exact[(page - 1) * per_page : page * per_page], len(exact), page, per_page
        )
    # ASCII digits that fit an id also look the id up ('²' is a digit to Python, and a
    # 40-digit number is no id); the name search runs either way ("1999" is a name too).
    customer_id = as_id(text)
    if customer_id is not None:
        exact = [
            Match(c, 100.0, "id") for c in session.scalars(live.where(Customer.id == customer_id))
        ]
    named = [key for key in customers_named(session, tenant_id, text) if key != customer_id]
    if named:
        exact += [
            Match(c, 100.0, "alias")
            for c in session.scalars(live.where(Customer.id.in_(named)).order_by(Customer.id))
        ]
    names = session.execute(live.with_only_columns(Customer.id, Customer.name)).all()
    found = {match.customer.id for match in exact}
    scored = process.extract(
        text,
        {row.id: row.name for row in names if row.id not in found},
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=MIN_SCORE,
        limit=None,
    )
    scored.sort(key=lambda item: (-item[1], item[0], item[2]))
    start, end = (page - 1) * per_page, page * per_page
    window = scored[max(start - len(exact), 0) : max(end - len(exact), 0)]
    by_id = {
        c.id: c for c in session.scalars(live.where(Customer.id.in_([key for _, _, key in window])))
    }
    matches = exact[start:end] + [
        Match(by_id[key], round(score, 1), "name") for _, score, key in window
    ]
    return SearchPage(matches, len(exact) + len(scored), page, per_page)
