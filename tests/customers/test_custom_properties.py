"""Custom properties change key by key, through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.custom_properties import (
    MAX_KEYS,
    MAX_VALUE_LENGTH,
    CustomChanges,
    normalize_custom_properties,
)
from customers.errors import InvalidInput, StaleVersion
from customers.models import Customer, OutboxEntry
from tests.customers.helpers import row_counts

ACME = {"name": "Acme Corp", "email": "ap@acme.com"}


def create(sessions: sessionmaker[Session], tenant_id: int, **custom: Any) -> int:
    with db.transaction(sessions) as session:
        data = {**ACME, "custom_properties": custom}
        return service.create_customer(session, tenant_id, data).id


def change(
    sessions: sessionmaker[Session], tenant_id: int, customer_id: int, **kwargs: Any
) -> None:
    with db.transaction(sessions) as session:
        expected_version = kwargs.pop("expected_version", None)
        service.update_customer(
            session,
            tenant_id,
            customer_id,
            {},
            custom=CustomChanges(**kwargs),
            expected_version=expected_version,
        )


def stored(sessions: sessionmaker[Session], customer_id: int) -> tuple[dict[str, Any], int]:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.custom_properties, customer.version


def last_outbox(sessions: sessionmaker[Session]) -> tuple[str, list[str]]:
    with sessions() as session:
        row = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc())).first()
        assert row is not None
        return row.operation, row.fields


def test_setting_a_key_keeps_the_others(sessions: sessionmaker[Session], tenant_id: int) -> None:
    """The reported bug: a=1, then b=2, lost a."""
    customer_id = create(sessions, tenant_id)
    change(sessions, tenant_id, customer_id, set={"a": "1"})
    change(sessions, tenant_id, customer_id, set={"b": "2"})
    assert stored(sessions, customer_id) == ({"a": "1", "b": "2"}, 3)


def test_a_change_writes_the_outbox_with_the_field(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, a="1")
    change(sessions, tenant_id, customer_id, set={"b": "2"}, unset=["a"])
    assert stored(sessions, customer_id) == ({"b": "2"}, 2)
    assert last_outbox(sessions) == ("update", ["custom_properties"])


def test_setting_the_same_value_writes_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, a="1")
    change(sessions, tenant_id, customer_id, set={"a": " 1 "})
    assert stored(sessions, customer_id) == ({"a": "1"}, 1)
    assert last_outbox(sessions) == ("create", ["custom_properties", "email", "name"])


def test_an_empty_value_is_a_value_not_a_removal(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, a="1", b="2")
    change(sessions, tenant_id, customer_id, set={"a": ""})
    assert stored(sessions, customer_id) == ({"a": "", "b": "2"}, 2)


def test_unset_removes_only_that_key(sessions: sessionmaker[Session], tenant_id: int) -> None:
    customer_id = create(sessions, tenant_id, a="1", b="2")
    change(sessions, tenant_id, customer_id, unset=["a"])
    assert stored(sessions, customer_id) == ({"b": "2"}, 2)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"unset": ["fax"]}, "custom_properties.fax", "the customer has no custom property 'fax'"),
        ({"set": {"a": "2"}, "unset": ["a"]}, "custom_properties.a", "is both set and unset"),
        ({"set": {"b": "2"}, "unset": ["zz"]}, "custom_properties.zz", "no custom property"),
        ({"set": {"cost center": "x"}}, "custom_properties.cost center", "is not a key"),
        ({"set": {"k" * 65: "x"}}, f"custom_properties.{'k' * 65}", "the limit is 64"),
        ({"set": {"b": "x" * (MAX_VALUE_LENGTH + 1)}}, "custom_properties.b", "the limit is"),
        ({"set": {"b": {"nested": 1}}}, "custom_properties.b", "is not text, a number"),
        ({"set": {"b": float("nan")}}, "custom_properties.b", "is not text, a number"),
    ],
)
def test_a_bad_change_names_the_key_and_writes_nothing(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int,
    changes: dict[str, Any], field: str, reason: str,
) -> None:  # fmt: skip
    customer_id = create(sessions, tenant_id, a="1")
    before = row_counts(engine)
    with pytest.raises(InvalidInput) as caught:
        change(sessions, tenant_id, customer_id, **changes)
    assert [error.field for error in caught.value.errors] == [field]
    assert reason in caught.value.errors[0].reason
    assert row_counts(engine) == before
    assert stored(sessions, customer_id) == ({"a": "1"}, 1)


def test_keys_are_bounded(sessions: sessionmaker[Session], tenant_id: int) -> None:
    customer_id = create(sessions, tenant_id, **{f"k{i}": "x" for i in range(MAX_KEYS)})
    with pytest.raises(InvalidInput, match=f"would have {MAX_KEYS + 1} keys"):
        change(sessions, tenant_id, customer_id, set={"one_more": "x"})
    change(sessions, tenant_id, customer_id, set={"k0": "y"})  # changing one is fine
    assert stored(sessions, customer_id)[0]["k0"] == "y"


def test_a_stale_version_writes_nothing(
    engine: Engine, sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, a="1")
    change(sessions, tenant_id, customer_id, set={"b": "2"}, expected_version=1)
    before = row_counts(engine)
    with pytest.raises(StaleVersion):
        change(sessions, tenant_id, customer_id, set={"c": "3"}, expected_version=1)
    assert row_counts(engine) == before
    assert stored(sessions, customer_id) == ({"a": "1", "b": "2"}, 2)


def test_a_whole_object_and_key_changes_are_not_mixed(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, a="1")
    with db.transaction(sessions) as session, pytest.raises(InvalidInput, match="either"):
        service.update_customer(
            session,
            tenant_id,
            customer_id,
            {"custom_properties": {"b": "2"}},
            custom=CustomChanges(set={"c": "3"}),
        )


def test_a_new_customer_s_properties_follow_the_same_rules() -> None:
    assert normalize_custom_properties({"segment": " smb ", "seats": 12}) == {
        "segment": "smb",
        "seats": 12,
    }
    with pytest.raises(ValueError, match="'bad key' is not a key"):
        normalize_custom_properties({"bad key": "x"})
    with pytest.raises(ValueError, match="the limit is 100"):
        normalize_custom_properties({f"k{i}": "x" for i in range(MAX_KEYS + 1)})


def test_a_crm_may_remove_a_key_that_is_not_there() -> None:
    assert CustomChanges(unset=["gone"], missing_ok=True).apply({"a": "1"}) == {"a": "1"}
