"""Legal entities: the tenant's own billing entities, and which one bills a customer.

A business that invoices from more than one company (a GmbH in Germany, an Inc. in the
US) lists them here; a customer references at most one, by its code. Codes are unique per
tenant and read case-insensitively (stored upper-case). Another tenant's code is answered
like one that does not exist. An entity that customers still reference cannot be removed:
the refusal says how many do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from customers.errors import InvalidInput, NotFound, Refused
from customers.fields import normalize_country, normalize_tax_id
from customers.models import Customer, LegalEntity

CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
FIELD = "legal_entity"


@dataclass(frozen=True)
class NewLegalEntity:
    code: str
    name: str
    country: str
    tax_id: str | None = None


def normalize_code(value: Any) -> str:
    code = str(value if value is not None else "").strip().upper()
    if not CODE.fullmatch(code):
        raise ValueError(
            f"{value!r} is not a legal entity code (letters, digits, - and _, at most 32)"
        )
    return code


def check_legal_entity(
    code: str, *, name: str, country: str, tax_id: str | None = None
) -> NewLegalEntity:
    """A new legal entity with every part checked; ``InvalidInput`` naming the bad ones."""
    problems = []
    checked: dict[str, Any] = {}
    for field, normalize, value in (
        ("code", normalize_code, code),
        ("country", normalize_country, country),
        ("tax_id", normalize_tax_id, tax_id),
    ):
        try:
            checked[field] = normalize(value)
        except ValueError as error:
            problems.append(InvalidInput.single(field, str(error)).errors[0])
    display = " ".join((name or "").split())
    if not display or len(display) > 200:
        problems.append(InvalidInput.single("name", "must be 1-200 characters").errors[0])
    if not checked.get("country") and "country" not in {p.field for p in problems}:
        problems.append(InvalidInput.single("country", "is required").errors[0])
    if problems:
        raise InvalidInput(problems)
    return NewLegalEntity(checked["code"], display, checked["country"], checked["tax_id"])


def add_legal_entity(session: Session, tenant_id: int, entity: NewLegalEntity) -> LegalEntity:
    row = LegalEntity(
        tenant_id=tenant_id,
        code=entity.code,
        name=entity.name,
        country=entity.country,
        tax_id=entity.tax_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Refused(f"legal entity {entity.code} exists already") from None
    return row


def list_legal_entities(session: Session, tenant_id: int) -> list[tuple[LegalEntity, int]]:
    """Every legal entity of the tenant, by code, with how many live customers use it."""
    users = (
        select(func.count(Customer.id))
        .where(Customer.legal_entity_id == LegalEntity.id, Customer.deleted_at.is_(None))
        .scalar_subquery()
    )
    rows = session.execute(
        select(LegalEntity, users)
        .where(LegalEntity.tenant_id == tenant_id)
        .order_by(LegalEntity.code)
    )
    return [(entity, count or 0) for entity, count in rows]


def entity_ids(session: Session, tenant_id: int) -> dict[str, int]:
    """The tenant's legal entities: code -> id."""
    rows = session.execute(
        select(LegalEntity.code, LegalEntity.id).where(LegalEntity.tenant_id == tenant_id)
    )
    return {code: entity_id for code, entity_id in rows}


def resolve_code(codes: dict[str, int], value: Any) -> int | None:
    """The id of the legal entity ``value`` names (blank: none); ``InvalidInput`` naming
    the field ``legal_entity`` when the tenant has no such code."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        code = normalize_code(value)
    except ValueError as error:
        raise InvalidInput.single(FIELD, str(error)) from None
    if code not in codes:
        known = ", ".join(sorted(codes)) or "none yet; add one with `crmsync legal-entities add`"
        raise InvalidInput.single(FIELD, f"no legal entity {code} (the codes: {known})")
    return codes[code]


def remove_legal_entity(session: Session, tenant_id: int, code: str) -> None:
    """Remove one; refused while any customer (deleted ones kept for history included)
    references it."""
    try:
        normalized = normalize_code(code)
    except ValueError:
        raise NotFound("legal entity", code) from None
    entity = session.scalar(
        select(LegalEntity).where(
            LegalEntity.tenant_id == tenant_id, LegalEntity.code == normalized
        )
    )
    if entity is None:
        raise NotFound("legal entity", normalized)
    used = session.scalar(
        select(func.count(Customer.id)).where(Customer.legal_entity_id == entity.id)
    )
    if used:
        raise Refused(
            f"legal entity {normalized} is used by {used} customer(s); give them another "
            "(customers update ID --legal-entity CODE) first; nothing was written"
        )
    session.delete(entity)
    session.flush()
