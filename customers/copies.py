"""Copying a customer: a new customer with another's settings.

What a copy takes is the way the business is invoiced and served, not who it is:

- copied: type, currency, payment terms, credit limit, billing and shipping address,
  category and subcategory (recorded as set by a person), custom properties, tags, the
  tax and billing settings (tax rate, country and exemption, legal entity, invoicing flow,
  auto pay, notification and portal toggles), the sales rep, and the business's own
  invoice sender and reply-to addresses;
- not copied: the name (a new one is required), email, phone, website and domain, tax id
  and registration number (they identify the other business, and copying them would make
  a sure duplicate of it), invoice recipients and copies (the other business's people),
  status (a copy starts active), notes, contacts, CRM links, aliases and history (outbox,
  conflicts, failures).

A copy is added as ``customers.service.create_customer`` adds a customer (validated, an
outbox row, the tenant's guard), except that it may have no email: such a customer cannot
be invoiced until one is added. Duplicate checks are the caller's, as for an added
customer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from customers import service
from customers.billing import TOGGLES
from customers.errors import InvalidInput, Refused
from customers.legal_entities import FIELD as LEGAL_ENTITY
from customers.models import ADDRESS_PARTS, Customer

COPIED_FIELDS = (
    "customer_type",
    "currency",
    "payment_terms_days",
    "credit_limit",
    *(f"{kind}_{part}" for kind in ("billing", "shipping") for part in ADDRESS_PARTS),
    "category",
    "subcategory",
    "custom_properties",
    "tax_rate",
    "tax_country",
    "tax_exemption",
    "tax_exemption_reason",
    "invoicing_flow",
    *TOGGLES,
    "sales_rep_email",
    "sales_rep_name",
    "invoice_sender_email",
    "invoice_reply_to",
)


def copied_values(source: Customer) -> dict[str, Any]:
    """The source's settings a copy takes (blank ones left out)."""
    values = {name: getattr(source, name) for name in COPIED_FIELDS}
    if source.legal_entity is not None:
        values[LEGAL_ENTITY] = source.legal_entity.code
    return {name: value for name, value in values.items() if value not in (None, "", {})}


def copy_customer(
    session: Session,
    tenant_id: int,
    source_id: int,
    *,
    name: str,
    email: str | None = None,
    changes: dict[str, Any] | None = None,
) -> Customer:
    """A new customer named ``name`` with the settings of customer ``source_id``; ``email``
    and ``changes`` (other fields) are set on the copy as given."""
    given = {"name": name, "email": email}
    for field, value in (changes or {}).items():
        if field in given and given[field] is not None and value != given[field]:
            # Neither may silently win: the one typed last is not always the one meant.
            raise InvalidInput.single(
                field, f"given twice, as {str(given[field])[:40]!r} and {str(value)[:40]!r}"
            )
    source = service.get_customer(session, tenant_id, source_id)
    if source.deleted_at is not None:
        raise Refused(f"customer {source_id} is deleted; it is kept for history only")
    values = {**copied_values(source), **(changes or {}), "name": name}
    if email is not None:
        values["email"] = email
    return service.create_customer(
        session, tenant_id, values, email_required=False, tags=source.tags
    )
