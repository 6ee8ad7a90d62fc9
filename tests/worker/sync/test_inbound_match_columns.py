"""A CRM sync keeps the match columns current: what it creates in bulk or one by one, and
what a later change of a CRM record writes to its customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers.models import Customer
from tests.customers.test_match_columns import assert_current
from tests.worker.sync.test_inbound import apply, company, links


def test_created_and_changed_by_a_sync_the_match_columns_are_current(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    records = [company(str(n), name=f"Firm {n} Works", domain=f"firm{n}.com") for n in range(30)]
    # A duplicate of one of them on the same page: the page's record-by-record path.
    records.append(company("99", name="Firm 3 Works GmbH", domain="firm3.com"))
    result = apply(sessions, connection_id, "company", *records)
    assert result.counts["created"] == 30 and result.counts["held"] == 1
    with sessions() as session:
        assert assert_current(session) == 30
    changed = company("5", minutes=5, name="Renamed Holdings", domain="shop.renamed.co.uk")
    assert apply(sessions, connection_id, "company", changed).counts["updated"] == 1
    linked = links(sessions)["5"]
    with sessions() as session:
        assert assert_current(session) == 30
        customer = session.scalar(select(Customer).where(Customer.id == linked))
        assert customer is not None
        assert (customer.match_name, customer.match_domain) == ("renamed", "renamed.co.uk")
