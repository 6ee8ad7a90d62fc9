"""Typed custom properties: a tenant's definitions of its custom property keys.

A definition gives a key a label, an optional group (a heading to show it under) and a
type, and from then on every value set for that key is checked and stored in one form:

======  =============================================  ==========================
type    accepted                                       stored as
======  =============================================  ==========================
text    any text (up to the custom property limit)     the text, trimmed
number  ``12``, ``-3.5``, ``1e3`` (at most 15          a JSON number (an integer
        significant digits)                            when it is whole)
date    ISO 8601 ``YYYY-MM-DD``                        ``"YYYY-MM-DD"``
bool    true/false, yes/no, 1/0, on/off (any casing)   ``true`` / ``false``
enum    one of the definition's options (any casing)   the option as defined
======  =============================================  ==========================

A key with no definition keeps taking any text, number or true/false, as it did before
definitions existed. A definition is refused while a customer holds a value for its key
that the definition would not accept (the message names how many and one of them), so
every stored value of a defined key is one the definition accepts. Removing a definition
keeps the values; the key is untyped again.

``coerce`` is pure; the functions that take a ``Session`` read and write definitions only
(values are changed by ``customers.service``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from customers.custom_properties import FIELD, Scalar, check_key, check_value
from customers.errors import FieldError, InvalidInput, NotFound, Refused
from customers.models import Customer, CustomPropertyDefinition, PropertyType

MAX_LABEL = 200
MAX_GROUP = 100
MAX_OPTIONS = 100
MAX_OPTION = 100
NUMBER_DIGITS = 15  # what a JSON number (an IEEE double) keeps exactly
TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "0", "off"})
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Definition:
    """A definition as plain values (what ``coerce`` needs and the CLI prints)."""

    key: str
    label: str
    group: str | None
    type: str
    options: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: CustomPropertyDefinition) -> Definition:
        return cls(row.key, row.label, row.group_name, row.value_type, tuple(row.options or ()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "type": self.type,
            "options": list(self.options),
        }


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if len(number.normalize().as_tuple().digits) > NUMBER_DIGITS:
        raise ValueError(f"{value!r} has more than {NUMBER_DIGITS} significant digits")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _date(value: Any) -> str:
    text = str(value).strip()
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (write it as YYYY-MM-DD)") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not true or false (true/false, yes/no, 1/0)")


def _option(definition: Definition, value: Any) -> str:
    text = str(value).strip()
    for option in definition.options:
        if option.casefold() == text.casefold():
            return option
    raise ValueError(f"{value!r} is not one of {', '.join(definition.options)}")


def coerce(definition: Definition, value: Any) -> Scalar:
    """The value as stored for this definition; ``ValueError`` saying why not. A blank is
    no value of a typed property (remove the key instead)."""
    if definition.type == PropertyType.TEXT:
        return check_value(definition.key, "" if value is None else str(value))
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"is empty; a {definition.type} property needs a value (or remove it)")
    if definition.type == PropertyType.NUMBER:
        return _number(value)
    if definition.type == PropertyType.DATE:
        return _date(value)
    if definition.type == PropertyType.BOOL:
        return _bool(value)
    return _option(definition, value)


def typed_values(
    definitions: Mapping[str, Definition], values: Mapping[str, Any], keys: Sequence[str] = ()
) -> dict[str, Any]:
    """``values`` with each defined key (of ``keys``, or all when none are named) stored in
    its definition's form; ``InvalidInput`` naming every bad key as
    ``custom_properties.<key>``."""
    typed, problems = dict(values), []
    for key in keys or list(values):
        definition = definitions.get(key)
        if definition is None or key not in values:
            continue
        try:
            typed[key] = coerce(definition, values[key])
        except ValueError as error:
            problems.append(FieldError(f"{FIELD}.{key}", str(error)))
    if problems:
        raise InvalidInput(sorted(problems, key=lambda problem: problem.field))
    return typed


def definitions_of(session: Session, tenant_id: int) -> dict[str, Definition]:
    """The tenant's definitions by key."""
    rows = session.scalars(
        select(CustomPropertyDefinition)
        .where(CustomPropertyDefinition.tenant_id == tenant_id)
        .order_by(CustomPropertyDefinition.group_name, CustomPropertyDefinition.key)
    )
    return {row.key: Definition.of(row) for row in rows}


def _text(field: str, value: str | None, limit: int, *, required: bool) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise InvalidInput.single(field, "is required")
        return None
    if len(text) > limit:
        raise InvalidInput.single(field, f"is {len(text)} characters long; the limit is {limit}")
    return text


def _options(kind: str, options: Sequence[str]) -> tuple[str, ...]:
    cleaned = [" ".join(option.split()) for option in options]
    if kind != PropertyType.ENUM:
        if cleaned:
            raise InvalidInput.single("options", f"only an enum property has options, not {kind}")
        return ()
    if not cleaned or not all(cleaned):
        raise InvalidInput.single("options", "an enum property needs at least one option")
    if len(cleaned) > MAX_OPTIONS:
        raise InvalidInput.single("options", f"{len(cleaned)} options; the limit is {MAX_OPTIONS}")
    long = [option for option in cleaned if len(option) > MAX_OPTION]
    if long:
        raise InvalidInput.single(
            "options", f"{long[0][:20]!r}... is longer than {MAX_OPTION} characters"
        )
    folded = [option.casefold() for option in cleaned]
    repeated = [option for option in cleaned if folded.count(option.casefold()) > 1]
    if repeated:
        raise InvalidInput.single("options", f"{', '.join(repeated)} given more than once")
    return tuple(cleaned)


def check_definition(
    key: str, *, label: str | None, group: str | None, kind: str, options: Sequence[str]
) -> Definition:
    """A new definition, every part checked; ``InvalidInput`` naming the first bad one."""
    try:
        key = check_key(key.strip())
    except ValueError as error:
        raise InvalidInput.single("key", str(error)) from None
    types = [member.value for member in PropertyType]
    kind = kind.strip().lower()
    if kind not in types:
        raise InvalidInput.single("type", f"{kind!r} is not one of {', '.join(types)}")
    return Definition(
        key=key,
        label=_text("label", label, MAX_LABEL, required=False) or key,
        group=_text("group", group, MAX_GROUP, required=False),
        type=kind,
        options=_options(kind, options),
    )


def add_definition(session: Session, tenant_id: int, definition: Definition) -> Definition:
    """Declare a key; refused when the key is declared already or when a live customer
    holds a value for it that the definition would not accept."""
    misfits = []
    for customer_id, values in session.execute(
        select(Customer.id, Customer.custom_properties).where(
            Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None)
        )
    ):
        if definition.key in (values or {}):
            try:
                coerce(definition, values[definition.key])
            except ValueError:
                misfits.append(customer_id)
    if misfits:
        raise Refused(
            f"{len(misfits)} customer(s) hold a {definition.key!r} value a {definition.type} "
            f"property does not take (customer {min(misfits)} is one); change or remove "
            "those values first; nothing was written"
        )
    row = CustomPropertyDefinition(
        tenant_id=tenant_id,
        key=definition.key,
        label=definition.label,
        group_name=definition.group,
        value_type=definition.type,
        options=list(definition.options),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Refused(f"custom property {definition.key!r} is defined already") from None
    return definition


def remove_definition(session: Session, tenant_id: int, key: str) -> int:
    """Forget a key's definition (its values stay, untyped). Returns how many live
    customers hold a value for it."""
    row = session.scalar(
        select(CustomPropertyDefinition).where(
            CustomPropertyDefinition.tenant_id == tenant_id, CustomPropertyDefinition.key == key
        )
    )
    if row is None:
        raise NotFound("custom property definition", key)
    session.delete(row)
    session.flush()
    holders = session.scalars(
        select(Customer.custom_properties).where(
            Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None)
        )
    )
    return sum(1 for values in holders if key in (values or {}))
