"""Directory records as plain data: what ``--json`` prints and the console shows.

Times become ISO 8601 text and amounts their exact decimal text, so the output is JSON as
it stands; the keys are the columns, then what is worked out from them (tags, the legal
entity's code, whether the customer can be invoiced, its tax address).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from customers.models import MATCH_COLUMNS, Contact, Customer


def plain(value: Any) -> Any:
    """One column's value as JSON-ready data."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def customer_dict(customer: Customer, *, with_contacts: bool = False) -> dict[str, Any]:
    data = {
        column.key: plain(getattr(customer, column.key))
        for column in Customer.__table__.columns
        if column.key not in MATCH_COLUMNS  # derived keys, not the customer's data
    }
    # By key, so what a person reads and what a script diffs do not depend on the order
    # the keys were set in.
    data["custom_properties"] = dict(sorted((customer.custom_properties or {}).items()))
    data["tags"] = customer.tags
    data["legal_entity"] = customer.legal_entity.code if customer.legal_entity else None
    data["incomplete"] = customer.incomplete
    data["missing_fields"] = customer.missing_fields
    data["can_be_invoiced"] = customer.can_be_invoiced
    data["tax_address"] = customer.tax_address
    if with_contacts:
        data["contacts"] = [contact_dict(c) for c in customer.contacts if c.deleted_at is None]
    return data


def contact_dict(contact: Contact) -> dict[str, Any]:
    return {column.key: plain(getattr(contact, column.key)) for column in Contact.__table__.columns}
