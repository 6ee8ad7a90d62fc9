"""Aliases: the names other systems give a customer, as (system, reference) pairs.

An alias is a ``customer_references`` row: the customer's number in an ERP
(``erp:C-1001``), an invoice of the billing system that points at it
(``billing:INV-7``). A customer has any number of them; one (system, reference) pair names
one customer of a tenant, which the database keeps (a unique constraint), so
``customers search`` finds the customer by it. Like every reference, an alias keeps the
customer from being purged.

The system is stored trimmed and lower-cased (``ERP`` and ``erp`` are one system); the
reference is trimmed and kept as typed (other systems' ids may be case-sensitive), and
searched without regard to case.

This module must not import ``customers.service`` (the service re-exports ``add_alias``
as ``add_reference``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from customers.errors import FieldError, InvalidInput, NotFound, Refused
from customers.models import Customer, CustomerReference

SYSTEM = re.compile(r"[a-z0-9][a-z0-9 ._-]*")
MAX_SYSTEM = 64
MAX_REFERENCE = 200
MAX_ALIASES_PER_ROW = 20  # a CSV cell; the directory itself sets no limit


@dataclass(frozen=True, order=True)
class Alias:
    system: str
    reference: str

    def __str__(self) -> str:
        return f"{self.system}:{self.reference}"


class AliasTaken(Refused):
    """The (system, reference) pair already names another customer of the tenant."""

    def __init__(self, alias: Alias, customer_id: int | None) -> None:
        self.alias = alias
        self.customer_id = customer_id
        owner = f"customer {customer_id}" if customer_id is not None else "another customer"
        super().__init__(f"alias {alias} already names {owner}; nothing was written")


def clean_alias(system: object, reference: object, *, field: str = "alias") -> Alias:
    """The alias as stored; ``InvalidInput`` naming ``field`` and what is wrong."""
    problems = []
    system_text = " ".join(str(system or "").split()).lower()
    reference_text = str(reference or "").strip()
    if not system_text:
        problems.append(FieldError(f"{field}.system", "is required"))
    elif len(system_text) > MAX_SYSTEM or not SYSTEM.fullmatch(system_text):
        problems.append(
            FieldError(
                f"{field}.system",
                f"{system_text[:40]!r} is not a system name (letters, digits, space, . _ -; "
                f"at most {MAX_SYSTEM} characters)",
            )
        )
    if not reference_text:
        problems.append(FieldError(f"{field}.reference", "is required"))
    elif len(reference_text) > MAX_REFERENCE:
        problems.append(
            FieldError(
                f"{field}.reference",
                f"is {len(reference_text)} characters long; the limit is {MAX_REFERENCE}",
            )
        )
    elif any(not character.isprintable() for character in reference_text):
        problems.append(FieldError(f"{field}.reference", "holds a control character"))
    if problems:
        raise InvalidInput(problems)
    return Alias(system_text, reference_text)


def parse_aliases(text: str, *, field: str = "aliases") -> list[Alias]:
    """``"erp:C-1001; billing:77"`` -> aliases, duplicates removed, in the order given.
    Each is ``SYSTEM:REFERENCE`` (the first colon splits them); ``;`` or a new line
    separates them."""
    aliases: list[Alias] = []
    problems: list[FieldError] = []
    parts = [part.strip() for part in re.split(r"[;\n]", text) if part.strip()]
    if len(parts) > MAX_ALIASES_PER_ROW:
        raise InvalidInput.single(
            field, f"has {len(parts)} aliases; the limit is {MAX_ALIASES_PER_ROW}"
        )
    for number, part in enumerate(parts, start=1):
        system, colon, reference = part.partition(":")
        name = f"{field}[{number}]"
        if not colon:
            problems.append(FieldError(name, f"{part[:40]!r} is not SYSTEM:REFERENCE"))
            continue
        try:
            alias = clean_alias(system, reference, field=name)
        except InvalidInput as error:
            problems.extend(error.errors)
            continue
        if alias not in aliases:
            aliases.append(alias)
    if problems:
        raise InvalidInput(problems)
    return aliases


def _customer(session: Session, tenant_id: int, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:
        raise NotFound("customer", customer_id)
    return customer


def owner_of(session: Session, tenant_id: int, alias: Alias) -> int | None:
    """The id of the customer this alias names in the tenant, if any."""
    return session.scalar(
        select(CustomerReference.customer_id).where(
            CustomerReference.tenant_id == tenant_id,
            CustomerReference.system == alias.system,
            CustomerReference.reference == alias.reference,
        )
    )


def owners_of(session: Session, tenant_id: int, aliases: Sequence[Alias]) -> dict[Alias, int]:
    """Which of these aliases name a customer of the tenant already: alias -> its id."""
    found: dict[Alias, int] = {}
    wanted = sorted(set(aliases))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(
                CustomerReference.system,
                CustomerReference.reference,
                CustomerReference.customer_id,
            ).where(
                CustomerReference.tenant_id == tenant_id,
                CustomerReference.reference.in_({alias.reference for alias in chunk}),
            )
        )
        found.update(
            (Alias(row.system, row.reference), row.customer_id)
            for row in rows
            if Alias(row.system, row.reference) in chunk
        )
    return found


def add_alias(
    session: Session, tenant_id: int, customer_id: int, *, system: str, reference: str
) -> CustomerReference:
    """Give a customer an alias. Giving it one it has is no change; one that names another
    customer of the tenant is refused (``AliasTaken``)."""
    alias = clean_alias(system, reference)
    _customer(session, tenant_id, customer_id)
    owner = owner_of(session, tenant_id, alias)
    if owner == customer_id:
        existing = session.scalar(
            select(CustomerReference).where(
                CustomerReference.tenant_id == tenant_id,
                CustomerReference.system == alias.system,
                CustomerReference.reference == alias.reference,
            )
        )
        assert existing is not None
        return existing
    if owner is not None:
        raise AliasTaken(alias, owner)
    row = CustomerReference(
        tenant_id=tenant_id,
        customer_id=customer_id,
        system=alias.system,
        reference=alias.reference,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # Another transaction gave the alias to a customer since we looked.
        raise AliasTaken(alias, None) from None
    return row


def add_aliases(
    session: Session, tenant_id: int, customer_id: int, aliases: Sequence[Alias]
) -> None:
    """Give a customer several aliases at once (all or none: the caller's transaction)."""
    for alias in aliases:
        add_alias(session, tenant_id, customer_id, system=alias.system, reference=alias.reference)


def remove_alias(
    session: Session, tenant_id: int, customer_id: int, *, system: str, reference: str
) -> Alias:
    """Take an alias from a customer; one it does not have is ``NotFound``."""
    alias = clean_alias(system, reference)
    _customer(session, tenant_id, customer_id)
    row = session.scalar(
        select(CustomerReference).where(
            CustomerReference.tenant_id == tenant_id,
            CustomerReference.customer_id == customer_id,
            CustomerReference.system == alias.system,
            CustomerReference.reference == alias.reference,
        )
    )
    if row is None:
        raise NotFound(f"customer {customer_id}'s alias", str(alias))
    session.delete(row)
    session.flush()
    return alias


def aliases_of(session: Session, customer_id: int) -> list[Alias]:
    """A customer's aliases, by system and reference."""
    rows = session.execute(
        select(CustomerReference.system, CustomerReference.reference)
        .where(CustomerReference.customer_id == customer_id)
        .order_by(CustomerReference.system, CustomerReference.reference)
    )
    return [Alias(row.system, row.reference) for row in rows]


def customers_named(session: Session, tenant_id: int, text: str) -> list[int]:
    """Customers an alias names by ``text``: ``SYSTEM:REFERENCE``, or a reference of any
    system (casing aside), by id."""
    text = text.replace("\x00", "").strip()  # PostgreSQL text holds no NUL
    if not text:
        return []
    conditions = [func.lower(CustomerReference.reference) == text.lower()]
    system, colon, reference = text.partition(":")
    if colon and system.strip() and reference.strip():
        conditions.append(
            (CustomerReference.system == " ".join(system.split()).lower())
            & (func.lower(CustomerReference.reference) == reference.strip().lower())
        )
    condition = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    rows = session.scalars(
        select(CustomerReference.customer_id)
        .where(CustomerReference.tenant_id == tenant_id, condition)
        .distinct()
        .order_by(CustomerReference.customer_id)
    )
    return list(rows)
