"""Conflict rows are stored for every rule, on SQLite and PostgreSQL (where column lengths
are enforced)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import RemoteRecord
from customers import db, service
from customers.models import Customer
from customers.sync_state import SyncConflict
from worker.sync.inbound import apply_page
from worker.sync.target import SyncTarget


def test_a_prefer_crm_conflict_is_kept_with_its_rule_and_winner(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    with db.transaction(sessions) as session:
        customer = service.create_customer(session, tenant_id, {
            "name": "Acme Corp", "email": "ap@acme.com", "domain": "acme.com",
            "category": "finance", "subcategory": "banking"})  # fmt: skip
        customer_id = customer.id
    record = RemoteRecord("company", "101", {"name": "Acme Corp", "domain": "acme.com",
                          "industry": "COMPUTER_SOFTWARE"}, datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    with db.transaction(sessions) as session:
        result = apply_page(session, SyncTarget.load(session, connection_id), "company", [record])
    assert result.counts["linked"] == 1 and result.counts["conflicts"] == 1
    with sessions() as session:
        [conflict] = session.scalars(select(SyncConflict))
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.category, customer.subcategory) == ("technology", "software")
    assert conflict.field == "category+subcategory"
    assert conflict.rule == "prefer_crm_unless_blank (crm won)"
