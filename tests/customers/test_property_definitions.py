"""Typed custom properties: definitions per tenant, values checked and stored by type,
on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from customers import db, service
from customers.custom_properties import CustomChanges
from customers.errors import FieldError, InvalidInput, NotFound, Refused
from customers.models import Customer
from customers.property_definitions import (
    Definition,
    add_definition,
    check_definition,
    coerce,
    definitions_of,
    remove_definition,
)
from tests.customers.helpers import row_counts

ACME = {"name": "Acme Corp", "email": "ap@acme.com"}


def define(
    sessions: sessionmaker[Session], tenant_id: int, key: str, kind: str, *options: str
) -> None:
    definition = check_definition(key, label=None, group="Sales", kind=kind, options=options)
    with db.transaction(sessions) as session:
        add_definition(session, tenant_id, definition)


def create(sessions: sessionmaker[Session], tenant_id: int, **custom: Any) -> int:
    with db.transaction(sessions) as session:
        data = {**ACME, "custom_properties": custom}
        return service.create_customer(session, tenant_id, data).id


def set_custom(sessions: sessionmaker[Session], tenant_id: int, customer_id: int, **values: Any):
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {}, custom=CustomChanges(set=values)
        )


def stored(sessions: sessionmaker[Session], customer_id: int) -> dict[str, Any]:
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.custom_properties


@pytest.mark.parametrize(
    ("kind", "given", "kept"),
    [
        ("number", "12", 12),
        ("number", " -3.50 ", -3.5),
        ("number", "1e3", 1000),
        ("date", "2026-02-28", "2026-02-28"),
        ("bool", "Yes", True),
        ("bool", "off", False),
        ("enum", "GOLD", "Gold"),
        ("text", "  plain  ", "plain"),
    ],
)
def test_values_are_stored_in_their_types_form(kind: str, given: str, kept: Any) -> None:
    definition = Definition("k", "K", None, kind, ("Gold", "Silver") if kind == "enum" else ())
    assert coerce(definition, given) == kept
    assert type(coerce(definition, given)) is type(kept)


@pytest.mark.parametrize(
    ("kind", "given", "reason"),
    [
        ("number", "12 apples", "'12 apples' is not a number"),
        ("number", "nan", "'nan' is not a number"),
        ("number", "1234567890.1234567", "has more than 15 significant digits"),
        ("date", "2026-02-30", "'2026-02-30' is not a date (write it as YYYY-MM-DD)"),
        ("date", "28.02.2026", "is not a date"),
        ("bool", "maybe", "'maybe' is not true or false"),
        ("enum", "Bronze", "'Bronze' is not one of Gold, Silver"),
        ("number", "", "is empty; a number property needs a value"),
    ],
)
def test_a_value_that_does_not_fit_says_why(kind: str, given: str, reason: str) -> None:
    definition = Definition("k", "K", None, kind, ("Gold", "Silver") if kind == "enum" else ())
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        coerce(definition, given)


def test_a_defined_key_is_checked_on_update_naming_it_and_writing_nothing(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    define(sessions, tenant_id, "seats", "number")
    define(sessions, tenant_id, "tier", "enum", "Gold", "Silver")
    customer_id = create(sessions, tenant_id, seats="3")
    assert stored(sessions, customer_id) == {"seats": 3}
    before = row_counts(sessions.kw["bind"])
    with pytest.raises(InvalidInput) as caught:
        set_custom(sessions, tenant_id, customer_id, seats="many", tier="bronze", note="x")
    assert caught.value.errors == [
        FieldError("custom_properties.seats", "'many' is not a number"),
        FieldError("custom_properties.tier", "'bronze' is not one of Gold, Silver"),
    ]
    assert row_counts(sessions.kw["bind"]) == before
    assert stored(sessions, customer_id) == {"seats": 3}
    set_custom(sessions, tenant_id, customer_id, tier="silver", note="free text")
    assert stored(sessions, customer_id) == {"seats": 3, "tier": "Silver", "note": "free text"}


def test_undefined_keys_take_any_text_as_before(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, seats="many")
    assert stored(sessions, customer_id) == {"seats": "many"}


def test_a_definition_is_refused_while_a_customer_holds_a_value_it_would_not_take(
    sessions: sessionmaker[Session], tenant_id: int
) -> None:
    customer_id = create(sessions, tenant_id, seats="many")
    with pytest.raises(Refused, match=rf"1 customer\(s\) hold a 'seats' value .* {customer_id}"):
        define(sessions, tenant_id, "seats", "number")
    with sessions() as session:
        assert definitions_of(session, tenant_id) == {}
    set_custom(sessions, tenant_id, customer_id, seats="4")
    define(sessions, tenant_id, "seats", "number")
    with pytest.raises(Refused, match="defined already"):
        define(sessions, tenant_id, "seats", "text")


def test_definitions_are_per_tenant(sessions: sessionmaker[Session], tenant_id: int) -> None:
    define(sessions, tenant_id, "seats", "number")
    with db.transaction(sessions) as session:
        other = service.get_tenant(session, "other")
        other.require_billing_address = False
        other_id = other.id
    other_customer = create(sessions, other_id, seats="many")
    assert stored(sessions, other_customer) == {"seats": "many"}
    with db.transaction(sessions) as session, pytest.raises(NotFound):
        remove_definition(session, other_id, "seats")
    with db.transaction(sessions) as session:
        assert remove_definition(session, tenant_id, "seats") == 0
        assert definitions_of(session, tenant_id) == {}


@pytest.mark.parametrize(
    ("kind", "options", "field", "reason"),
    [
        ("colour", (), "type", "'colour' is not one of text, number, date, bool, enum"),
        ("enum", (), "options", "an enum property needs at least one option"),
        ("enum", ("a", "A"), "options", "a, A given more than once"),
        ("text", ("a",), "options", "only an enum property has options, not text"),
    ],
)
def test_a_bad_definition_names_its_part(
    kind: str, options: tuple[str, ...], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_definition("tier", label=None, group=None, kind=kind, options=options)
    assert caught.value.errors == [FieldError(field, reason)]


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_definition("9lives", label=None, group=None, kind="text", options=())
    assert caught.value.errors[0].field == "key"
