"""Saving categorizations and choosing whom to categorize, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from customers import categorize, service
from customers.categorizers import Categorization, CustomerFacts
from customers.categorizers.rules import RulesCategorizer
from customers.db import transaction
from customers.errors import InvalidInput, Refused
from customers.models import Customer, OutboxEntry
from customers.sync_state import Connection
from customers.types import utcnow


class Recording:
    """The rules, remembering what it was asked; optionally someone edits meanwhile."""

    source = "rules"

    def __init__(self, meanwhile: object = None) -> None:
        self.asked: list[CustomerFacts] = []
        self.meanwhile = meanwhile

    def categorize(self, facts: CustomerFacts) -> Categorization:
        self.asked.append(facts)
        if callable(self.meanwhile):
            self.meanwhile()
        return RulesCategorizer().categorize(facts)


def add(
    sessions: sessionmaker[Session], tenant_id: int, name: str, email: str, **more: object
) -> int:
    with transaction(sessions) as session:
        return service.create_customer(
            session, tenant_id, {"name": name, "email": email, **more}
        ).id


def load(sessions: sessionmaker[Session], customer_id: int) -> Customer:
    with sessions() as session:
        return session.get_one(Customer, customer_id)


def test_an_answer_is_saved_with_source_time_and_an_outbox_row(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = add(sessions, tenant_id, "Springfield City Council", "ap@springfield.gov",
                      custom_properties={"industry": "GOVERNMENT_ADMINISTRATION"})  # fmt: skip
    recording = Recording()
    outcome = categorize.categorize_customer(sessions, customer_id, recording)
    assert outcome.status == categorize.CATEGORIZED
    assert recording.asked[0].industry == "GOVERNMENT_ADMINISTRATION"
    customer = load(sessions, customer_id)
    assert (customer.category, customer.subcategory, customer.category_source) == (
        "public_sector",
        "government",
        "rules",
    )
    assert customer.category_confidence and customer.category_confidence > 0.8
    assert customer.categorized_at and utcnow() - customer.categorized_at < timedelta(minutes=1)
    assert customer.version == 2
    with sessions() as session:
        last = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc())).first()
    assert last is not None and (last.entity_id, last.operation) == (customer_id, "update")
    assert {"category", "subcategory", "category_source"} <= set(last.fields)
    assert "categorization_requested_at" not in last.fields


def test_a_manual_category_is_never_overwritten(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = add(sessions, tenant_id, "Acme Software", "ap@acme-software.com")
    with transaction(sessions) as session:
        categorize.set_category(session, tenant_id, customer_id, "retail", "wholesale")
    recording = Recording()
    for force in (False, True):
        outcome = categorize.categorize_customer(sessions, customer_id, recording, force=force)
        assert outcome.status == categorize.KEPT_MANUAL
    assert recording.asked == []  # not even asked
    customer = load(sessions, customer_id)
    assert (customer.category, customer.subcategory, customer.category_source,
            customer.category_confidence) == ("retail", "wholesale", "manual", 1.0)  # fmt: skip
    with transaction(sessions) as session, pytest.raises(Refused, match="by hand"):
        categorize.request_one(session, tenant_id, customer_id)


def test_a_manual_choice_made_while_the_categorizer_thinks_wins(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = add(sessions, tenant_id, "Acme Software", "ap@acme-software.com")

    def person_decides() -> None:
        with transaction(sessions) as session:
            categorize.set_category(session, tenant_id, customer_id, "finance")

    outcome = categorize.categorize_customer(sessions, customer_id, Recording(person_decides))
    assert outcome.status == categorize.KEPT_MANUAL
    assert load(sessions, customer_id).category == "finance"


def test_already_categorized_needs_force(sessions: sessionmaker[Session], tenant_id: int) -> None:
    customer_id = add(sessions, tenant_id, "Acme Software", "ap@acme-software.com")
    with transaction(sessions) as session:  # a CRM's industry set it: not a person's choice
        connection = Connection(tenant_id=tenant_id, provider="hubspot", account_id="1", name="p")
        session.add(connection)
        session.flush()
        service.update_customer(session, tenant_id, customer_id, {"category": "finance"},
                                origin_connection_id=connection.id)  # fmt: skip
    assert categorize.categorize_customer(sessions, customer_id, Recording()).status == (
        categorize.ALREADY_CATEGORIZED
    )
    forced = categorize.categorize_customer(sessions, customer_id, Recording(), force=True)
    assert forced.status == categorize.CATEGORIZED
    assert load(sessions, customer_id).category == "technology"


def test_set_category_checks_the_taxonomy(sessions: sessionmaker[Session], tenant_id: int) -> None:
    customer_id = add(sessions, tenant_id, "Acme", "ap@acme.com")
    with transaction(sessions) as session, pytest.raises(InvalidInput, match="not a category"):
        categorize.set_category(session, tenant_id, customer_id, "spaceships")
    with transaction(sessions) as session, pytest.raises(InvalidInput, match="not a subcategory"):
        categorize.set_category(session, tenant_id, customer_id, "finance", "software")
    assert load(sessions, customer_id).category is None


def test_claims_respect_the_limit_skip_categorized_and_are_safe_to_repeat(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    ids = [add(sessions, tenant_id, f"Customer {i}", f"c{i}@x.com") for i in range(7)]
    with transaction(sessions) as session:
        categorize.set_category(session, tenant_id, ids[1], "finance")
        service.update_customer(session, tenant_id, ids[2], {"category": "retail"})
        service.delete_customer(session, tenant_id, ids[3])
        versions = {c.id: c.version for c in session.scalars(select(Customer))}

    def claim(limit: int) -> list[int]:
        with transaction(sessions) as session:
            return categorize.claim_uncategorized(session, tenant_id, limit=limit,
                                                  reschedule_after_s=3600)  # fmt: skip

    first, second, third = claim(2), claim(2), claim(2)
    assert (first, second, third) == ([ids[0], ids[4]], [ids[5], ids[6]], [])
    with sessions() as session:
        backlog = categorize.backlog(session, tenant_id, reschedule_after_s=3600)
        # the request mark is bookkeeping: no version bump, nothing for the CRMs
        assert {c.id: c.version for c in session.scalars(select(Customer))} == versions
    assert (backlog.uncategorized, backlog.unclaimed) == (4, 0)
    # A request that produced nothing for longer than the window counts as lost.
    with transaction(sessions) as session:
        session.execute(update(Customer).where(Customer.id == ids[0]).values(
            categorization_requested_at=utcnow() - timedelta(hours=2)))  # fmt: skip
    assert claim(10) == [ids[0]]


def test_counts_after_a_categorization_clear_the_request(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = add(sessions, tenant_id, "Acme Hotel", "ap@acme-hotel.com")
    with transaction(sessions) as session:
        assert categorize.claim_uncategorized(session, tenant_id, limit=5,
                                              reschedule_after_s=60) == [customer_id]  # fmt: skip
    categorize.categorize_customer(sessions, customer_id, Recording())
    customer = load(sessions, customer_id)
    assert customer.categorization_requested_at is None and customer.category == "food_hospitality"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
