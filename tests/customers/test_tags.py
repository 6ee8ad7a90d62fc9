"""Tags: a set of labels per customer, changed one at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.errors import FieldError, InvalidInput
from customers.models import Customer, OutboxEntry
from customers.tags import MAX_TAG_LENGTH, normalize_tag
from tests.customers.helpers import row_counts


def create(sessions: sessionmaker[Session], tenant_id: int, email: str, *tags: str) -> int:
    with db.transaction(sessions) as session:
        data = {"name": email.split("@")[0], "email": email}
        return service.create_customer(session, tenant_id, data, tags=tags).id


def retag(
    sessions: sessionmaker[Session],
    tenant_id: int,
    customer_id: int,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> None:
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {}, add_tags=add, remove_tags=remove
        )


def tags_and_version(sessions: sessionmaker[Session], customer_id: int) -> tuple[list[str], int]:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.tags, customer.version


def test_tags_are_a_set_of_normalized_labels(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, "a@acme.com", " VIP ", "vip", "Key  Account")
    assert tags_and_version(sessions, customer_id) == (["key account", "vip"], 1)
    retag(sessions, tenant_id, customer_id, add=("Wholesale", "VIP"))
    assert tags_and_version(sessions, customer_id) == (["key account", "vip", "wholesale"], 2)
    retag(sessions, tenant_id, customer_id, remove=("VIP",))
    assert tags_and_version(sessions, customer_id) == (["key account", "wholesale"], 3)
    retag(sessions, tenant_id, customer_id, add=("wholesale",))  # has it: no change
    assert tags_and_version(sessions, customer_id)[1] == 3
    with sessions() as session:
        last = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc())).first()
        assert last is not None and (last.operation, last.fields) == ("update", ["tags"])


def test_removing_a_tag_the_customer_lacks_names_it_and_writes_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, "a@acme.com", "vip")
    before = row_counts(sessions.kw["bind"])
    with pytest.raises(InvalidInput) as caught:
        retag(sessions, tenant_id, customer_id, add=("new",), remove=("gold",))
    assert caught.value.errors == [FieldError("tags", "the customer has no tag 'gold'")]
    assert row_counts(sessions.kw["bind"]) == before
    assert tags_and_version(sessions, customer_id) == (["vip"], 1)


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("  ", "a tag must not be blank"),
        ("a;b", "holds a comma, semicolon or control character"),
        ("x" * (MAX_TAG_LENGTH + 1), f"is {MAX_TAG_LENGTH + 1} characters long"),
    ],
)
def test_a_bad_tag_says_why(tag: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_tag(tag)


def test_list_by_tag_finds_customers_with_every_tag_of_this_tenant_only(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    both = create(sessions, tenant_id, "both@a.com", "vip", "eu")
    create(sessions, tenant_id, "vip@b.com", "vip")
    with db.transaction(sessions) as session:
        other = service.get_tenant(session, "other")
        other.require_billing_address = False
        other_id = other.id
    create(sessions, other_id, "other@c.com", "vip", "eu")
    with sessions() as session:
        rows, total = service.list_customers(session, tenant_id, tags=["VIP", "eu"])
        assert ([row.id for row in rows], total) == ([both], 1)
        assert service.list_customers(session, tenant_id, tags=["vip"])[1] == 2


def test_purge_removes_the_tags_with_the_customer(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, "a@acme.com", "vip")
    with db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, customer_id)
    assert row_counts(sessions.kw["bind"])["customer_tags"] == 0
