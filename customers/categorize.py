"""Categorizing customers: the service the ``categorize_customer`` job and the CLI call.

- :func:`categorize_customer` asks a categorizer (see ``customers.categorizers``) and saves
  the answer on the customer: category, subcategory, confidence, source (backend and
  model) and time, with an outbox row like every other change. The categorizer is called
  between two short transactions, never inside one: an outside service may take seconds.
- :func:`set_category` is the manual choice (source ``manual``); a manual category is
  never overwritten by any categorizer, whatever the caller asks.
- :func:`claim_uncategorized` picks customers for automatic categorization and marks them
  requested (``categorization_requested_at``), so a second run before their jobs ran does
  not schedule them again; a request older than ``reschedule_after_s`` counts as lost and is
  picked again.

This module does not enqueue jobs or read settings; the worker does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session, lazyload, sessionmaker

from customers import taxonomy
from customers.categorizers import MANUAL_SOURCE, Categorization, Categorizer, CustomerFacts
from customers.db import transaction
from customers.errors import InvalidInput, Refused
from customers.models import Customer
from customers.service import get_customer, guarded, write_outbox
from customers.types import utcnow

MANUAL_CONFIDENCE = 1.0
INDUSTRY_PROPERTY = "industry"  # custom property holding a CRM industry value, if any
# Bookkeeping, not customer data: never pushed to a CRM.
_NOT_PUSHED = frozenset({"categorization_requested_at"})

# What categorize_customer did.
CATEGORIZED = "categorized"
KEPT_MANUAL = "kept_manual"  # a person chose the category; left alone
ALREADY_CATEGORIZED = "already_categorized"  # has a category and force was not asked
GONE = "gone"  # deleted or purged before the job ran


@dataclass(frozen=True)
class Outcome:
    status: str
    customer_id: int
    categorization: Categorization | None = None


def facts_of(customer: Customer) -> CustomerFacts:
    """What a categorizer is shown about a customer."""
    industry = (customer.custom_properties or {}).get(INDUSTRY_PROPERTY)
    return CustomerFacts(
        name=customer.name,
        email=customer.email,
        website=customer.website,
        domain=customer.domain,
        customer_type=customer.customer_type,
        industry=str(industry) if industry else None,
        country=customer.billing_country,
    )


def _save(
    session: Session, customer: Customer, values: Mapping[str, Any], *, guard: bool = True
) -> list[str]:
    """Write category values the way the service layer writes any change: a savepoint, a
    version bump and an outbox row naming the changed fields. ``guard=False`` leaves out
    the savepoint and flush, for a caller that holds the rows locked and flushes once."""
    changed = [field for field, value in values.items() if getattr(customer, field) != value]
    if not changed:
        return []
    with guarded(session, "customer", customer.id) if guard else nullcontext():
        for field in changed:
            setattr(customer, field, values[field])
        customer.updated_at = utcnow()
    pushed = [field for field in changed if field not in _NOT_PUSHED]
    if pushed:
        write_outbox(
            session,
            tenant_id=customer.tenant_id,
            entity_type="customer",
            entity_id=customer.id,
            operation="update",
            fields=pushed,
        )
    return changed


def _values(result: Categorization, when: datetime) -> dict[str, Any]:
    return {
        "category": result.category,
        "subcategory": result.subcategory,
        "category_confidence": result.confidence,
        "category_source": result.source,
        "categorized_at": when,
        "categorization_requested_at": None,
    }


def _skip_reason(customer: Customer | None, *, force: bool) -> str | None:
    if customer is None or customer.deleted_at is not None:
        return GONE
    if customer.category_source == MANUAL_SOURCE:
        return KEPT_MANUAL
    if customer.category is not None and not force:
        return ALREADY_CATEGORIZED
    return None


def categorize_customer(
    sessions: sessionmaker[Session],
    customer_id: int,
    categorizer: Categorizer,
    *,
    force: bool = False,
) -> Outcome:
    """Categorize one customer and save the answer, unless it was categorized by hand (never
    overwritten) or, without ``force``, already has a category. Errors of the categorizer
    (``connectors.errors``) propagate: retrying is the caller's business."""
    with transaction(sessions) as session:
        customer = session.get(Customer, customer_id)
        skip = _skip_reason(customer, force=force)
        if skip is not None or customer is None:
            return Outcome(skip or GONE, customer_id)
        facts, version_read = facts_of(customer), customer.version
    result = categorizer.categorize(facts)
    with transaction(sessions) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        skip = _skip_reason(customer, force=force or _unchanged(customer, version_read))
        if skip is not None or customer is None:
            return Outcome(skip or GONE, customer_id)
        _save(session, customer, _values(result, utcnow()))
    return Outcome(CATEGORIZED, customer_id, result)


def read_for_categorizing(
    session: Session, customer_ids: Sequence[int]
) -> tuple[dict[int, tuple[CustomerFacts, int]], list[Outcome]]:
    """Many customers at once, as :func:`categorize_customer` reads one (without force):
    the facts and version of those to ask about, and the outcomes of those to leave."""
    found = {
        customer.id: customer
        for customer in session.scalars(
            select(Customer).where(Customer.id.in_(list(customer_ids))).options(lazyload("*"))
        )
    }
    asks: dict[int, tuple[CustomerFacts, int]] = {}
    left: list[Outcome] = []
    for customer_id in customer_ids:
        customer = found.get(customer_id)
        skip = _skip_reason(customer, force=False)
        if skip is not None or customer is None:
            left.append(Outcome(skip or GONE, customer_id))
        else:
            asks[customer_id] = (facts_of(customer), customer.version)
    return asks, left


def save_categorizations(
    session: Session, answers: Mapping[int, tuple[Categorization, int]]
) -> list[Outcome]:
    """Save many answers (customer id -> answer and the version it was asked about) in one
    transaction, by the rules :func:`categorize_customer` keeps for one."""
    rows = session.scalars(
        select(Customer)
        .where(Customer.id.in_(list(answers)))
        .options(lazyload("*"))
        .with_for_update()
    )
    found = {customer.id: customer for customer in rows}
    outcomes: list[Outcome] = []
    now = utcnow()
    for customer_id, (result, version_read) in answers.items():
        customer = found.get(customer_id)
        skip = _skip_reason(customer, force=_unchanged(customer, version_read))
        if skip is not None or customer is None:
            outcomes.append(Outcome(skip or GONE, customer_id))
            continue
        _save(session, customer, _values(result, now), guard=False)
        outcomes.append(Outcome(CATEGORIZED, customer_id, result))
    session.flush()
    return outcomes


def _unchanged(customer: Customer | None, version_read: int) -> bool:
    # A category that appeared while the categorizer was thinking (a CRM sync, say) wins
    # over this answer; one that was already there when asked with force does not.
    return customer is not None and customer.version == version_read


def set_category(
    session: Session,
    tenant_id: int,
    customer_id: int,
    category: str,
    subcategory: str | None = None,
) -> Customer:
    """A person's choice: saved with source ``manual`` and confidence 1, and from then on
    never overwritten by a categorizer."""
    known = taxonomy.get(category)
    if known is None:
        choices = ", ".join(c.slug for c in taxonomy.CATEGORIES)
        raise InvalidInput.single("category", f"{category!r} is not a category ({choices})")
    if not taxonomy.is_valid(category, subcategory):
        subs = ", ".join(sub.slug for sub in known.subcategories) or "none"
        raise InvalidInput.single(
            "subcategory", f"{subcategory!r} is not a subcategory of {category} ({subs})"
        )
    customer = get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer_id} is deleted; it is kept for history only")
    _save(
        session,
        customer,
        {
            "category": category,
            "subcategory": subcategory,
            "category_confidence": MANUAL_CONFIDENCE,
            "category_source": MANUAL_SOURCE,
            "categorized_at": utcnow(),
            "categorization_requested_at": None,
        },
    )
    return customer


def _uncategorized(tenant_id: int) -> Any:
    return select(Customer.id).where(
        Customer.tenant_id == tenant_id,
        Customer.deleted_at.is_(None),
        Customer.category.is_(None),
    )


def _unclaimed(query: Any, now: datetime, reschedule_after_s: float) -> Any:
    stale = now - timedelta(seconds=reschedule_after_s)
    return query.where(
        (Customer.categorization_requested_at.is_(None))
        | (Customer.categorization_requested_at < stale)
    )


def claim_uncategorized(
    session: Session, tenant_id: int, *, limit: int, reschedule_after_s: float
) -> list[int]:
    """Up to ``limit`` uncategorized customers (oldest first) that have no pending request,
    marked requested now. Concurrent claims on PostgreSQL skip each other's rows."""
    now = utcnow()
    query = _unclaimed(_uncategorized(tenant_id), now, reschedule_after_s)
    ids = list(
        session.scalars(query.order_by(Customer.id).limit(limit).with_for_update(skip_locked=True))
    )
    mark_requested(session, ids, now)
    return ids


def mark_requested(session: Session, customer_ids: Sequence[int], when: datetime | None) -> None:
    """Set (or, with ``None``, clear) the request mark. A plain UPDATE: bookkeeping does not
    bump the customer's version, so it never makes someone's edit look stale."""
    if customer_ids:
        table = cast(Table, Customer.__table__)
        session.execute(
            update(table)
            .where(table.c.id.in_(list(customer_ids)))
            .values(categorization_requested_at=when)
        )


@dataclass(frozen=True)
class Backlog:
    uncategorized: int  # live customers without a category
    unclaimed: int  # of those, how many no pending request covers


def backlog(session: Session, tenant_id: int, *, reschedule_after_s: float) -> Backlog:
    query = _uncategorized(tenant_id)
    unclaimed = _unclaimed(query, utcnow(), reschedule_after_s)
    return Backlog(
        session.scalar(select(func.count()).select_from(query.subquery())) or 0,
        session.scalar(select(func.count()).select_from(unclaimed.subquery())) or 0,
    )


def request_one(session: Session, tenant_id: int, customer_id: int) -> Customer:
    """Check a customer can be categorized on request and mark it requested."""
    customer = get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer_id} is deleted; it is kept for history only")
    if customer.category_source == MANUAL_SOURCE:
        raise Refused(
            f"customer {customer_id} was categorized by hand ({customer.category}); "
            "a categorizer never overwrites that: use set-category to change it"
        )
    mark_requested(session, [customer_id], utcnow())
    return customer
