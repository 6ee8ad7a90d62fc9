"""Where a customer's invoices go, and which communications each contact receives.

Per customer: the address invoices are sent from (``invoice_sender_email``), the address
replies go to (``invoice_reply_to``), and lists of recipients (``invoice_recipients``) and
copies (``invoice_cc``). Per contact: the communications it receives (``communications``:
``billing``, ``updates``, ``legal`` or a label of the business's own), its department and
notes.

The address an invoice goes to is derived, never stored: see :func:`invoice_to` for the
order in which the sources are tried.

The normalizers here are the directory's field rules for these fields
(``customers.fields`` takes them in); list fields name the item that is wrong
(``invoice_recipients[2]: ...``). This module must not import ``customers.fields`` or
``customers.service``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

from customers.errors import FieldError, InvalidInput
from customers.models import ContactRole, Customer

MAX_RECIPIENTS = 20  # per list: invoice_recipients, invoice_cc
MAX_COMMUNICATIONS = 20
MAX_LABEL = 40
MAX_EMAIL = 320
LABEL = re.compile(r"[a-z][a-z0-9_-]*")


class Communication(StrEnum):
    """The communications every business sends; a contact may receive labels of the
    business's own as well (``newsletter``, ``security-notices``)."""

    BILLING = "billing"
    UPDATES = "updates"
    LEGAL = "legal"


class InvoiceToSource(StrEnum):
    """Where :func:`invoice_to` found the addresses, in the order it looks."""

    RECIPIENTS = "recipients"
    PRIMARY_CONTACT = "primary_contact"
    BILLING_CONTACT = "billing_contact"
    CUSTOMER_EMAIL = "customer_email"
    NONE = "none"


@lru_cache(maxsize=65_536)
def _address(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"{text!r} is not a valid email address ({error})") from None
    return result.normalized.lower()


def normalize_address(value: Any) -> str | None:
    """One address, lower-cased and syntax-checked (as ``customers.fields`` checks the
    customer's email); blank is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if len(text) > MAX_EMAIL:
        raise ValueError(f"is {len(text)} characters long; the limit is {MAX_EMAIL}")
    return _address(text)


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[,;\n]", value) if item.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"{value!r} is not a list")


def address_list(field: str) -> Callable[[Any], list[str]]:
    """A list of addresses (a list, or text separated by ``,`` or ``;``): each checked,
    duplicates (any casing) dropped, at most :data:`MAX_RECIPIENTS`."""

    def normalize(value: Any) -> list[str]:
        addresses: list[str] = []
        problems: list[FieldError] = []
        for number, item in enumerate(_items(value), start=1):
            try:
                address = normalize_address(item) if isinstance(item, str) else None
                if address is None:
                    raise ValueError(f"{item!r} is not an email address")
            except ValueError as error:
                problems.append(FieldError(f"{field}[{number}]", str(error)))
                continue
            if address not in addresses:
                addresses.append(address)
        if problems:
            raise InvalidInput(problems)
        if len(addresses) > MAX_RECIPIENTS:
            raise ValueError(f"has {len(addresses)} addresses; the limit is {MAX_RECIPIENTS}")
        return addresses

    return normalize


def normalize_communications(value: Any) -> list[str]:
    """What a contact receives: ``billing``, ``updates``, ``legal`` or a label of one's own
    (a lowercase letter, then letters, digits, ``-`` and ``_``); duplicates dropped."""
    labels: list[str] = []
    problems: list[FieldError] = []
    for number, item in enumerate(_items(value), start=1):
        label = str(item).strip().lower()
        if len(label) > MAX_LABEL or not LABEL.fullmatch(label):
            problems.append(
                FieldError(
                    f"communications[{number}]",
                    f"{str(item)[:50]!r} is not a communication (billing, updates, legal, or "
                    f"a label of your own: a lowercase letter, then letters, digits, - and _; "
                    f"at most {MAX_LABEL} characters)",
                )
            )
        elif label not in labels:
            labels.append(label)
    if problems:
        raise InvalidInput(problems)
    if len(labels) > MAX_COMMUNICATIONS:
        raise ValueError(f"has {len(labels)} labels; the limit is {MAX_COMMUNICATIONS}")
    return labels


# Taken into ``customers.fields.CUSTOMER_FIELDS``; the contact's into ``CONTACT_FIELDS``.
CUSTOMER_DELIVERY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "invoice_sender_email": normalize_address,
    "invoice_reply_to": normalize_address,
    "invoice_recipients": address_list("invoice_recipients"),
    "invoice_cc": address_list("invoice_cc"),
}
CONTACT_DELIVERY_FIELDS: dict[str, Callable[[Any], Any]] = {
    "communications": normalize_communications,
}


@dataclass(frozen=True)
class InvoiceTo:
    addresses: list[str]
    source: InvoiceToSource

    def as_dict(self) -> dict[str, Any]:
        return {"invoice_to": self.addresses, "invoice_to_source": self.source.value}


def invoice_to(customer: Customer) -> InvoiceTo:
    """The addresses a customer's invoices go to, and where they came from. The first
    source that gives an address decides:

    1. ``recipients``: the customer's invoice recipients, when it has any (all of them);
    2. ``primary_contact``: the email of its primary contact;
    3. ``billing_contact``: the email of its first contact (by id) with the billing role;
    4. ``customer_email``: the customer's own email;
    5. ``none``: nowhere; the invoice cannot be sent by email.

    Removed contacts and contacts without an email are passed over. Copies
    (``invoice_cc``) go with the invoice whatever the source; the sender and reply-to
    addresses are the customer's settings and are not derived.
    """
    if customer.invoice_recipients:
        return InvoiceTo(list(customer.invoice_recipients), InvoiceToSource.RECIPIENTS)
    live = [contact for contact in customer.contacts if contact.deleted_at is None]
    primary = next((c for c in live if c.is_primary and c.email), None)
    if primary is not None and primary.email:
        return InvoiceTo([primary.email], InvoiceToSource.PRIMARY_CONTACT)
    billing = next(
        (c for c in sorted(live, key=lambda c: c.id) if ContactRole.BILLING in c.roles and c.email),
        None,
    )
    if billing is not None and billing.email:
        return InvoiceTo([billing.email], InvoiceToSource.BILLING_CONTACT)
    if customer.email:
        return InvoiceTo([customer.email], InvoiceToSource.CUSTOMER_EMAIL)
    return InvoiceTo([], InvoiceToSource.NONE)
