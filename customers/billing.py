"""Tax and billing settings of a customer: their values, their defaults and their checks.

=========================  ====================================================  =============
field                      values                                                default
=========================  ====================================================  =============
tax_rate                   a percent, 0-100, at most 4 decimals (``19``,         ``0.00``
                           ``7.5``, ``19%``)
tax_country                ISO 3166 alpha-2, read like every country             none
tax_exemption              ``none``, ``exempt`` (no tax is charged: a charity,   ``none``
                           a public body) or ``reverse_charge`` (the buyer
                           accounts for the tax: EU B2B across borders)
tax_exemption_reason       text: the legal basis or certificate number           none
invoicing_flow             ``automatic`` (invoices are issued and sent when      ``automatic``
                           due), ``draft`` (made as drafts that a person
                           reviews and sends), ``manual`` (none are made; a
                           person raises each one)
auto_pay                   true/false: charge the payment method on file         false
notify_invoice_issued      true/false: email the customer each new invoice       true
notify_payment_reminder    true/false: remind before and after the due date      true
notify_payment_received    true/false: confirm each payment received             true
portal_enabled             true/false: the customer may use the billing portal   false
sales_rep_email            the sales rep's email (matched to HubSpot owners      none
                           and Salesforce users by it)
sales_rep_name             the sales rep's name, as shown                        none
=========================  ====================================================  =============

A billing address, where a tenant requires one (``tenants.require_billing_address``, on
by default), is a street, a city and a country (:data:`BILLING_ADDRESS_PARTS`); a postal
code is not required, as some countries have none.

This module is pure: normalizers that return the stored form or raise ``ValueError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MAX_TAX_RATE = Decimal(100)
TAX_RATE_PLACES = 4
MAX_REASON = 200
BILLING_ADDRESS_PARTS = ("billing_street", "billing_city", "billing_country")
TRUE_WORDS = frozenset({"true", "yes", "1", "on", "y"})
FALSE_WORDS = frozenset({"false", "no", "0", "off", "n"})


class TaxExemption(StrEnum):
    NONE = "none"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"


class InvoicingFlow(StrEnum):
    AUTOMATIC = "automatic"
    DRAFT = "draft"
    MANUAL = "manual"


TOGGLES = (
    "auto_pay",
    "notify_invoice_issued",
    "notify_payment_reminder",
    "notify_payment_received",
    "portal_enabled",
)
# What a new customer has unless told otherwise (the columns' defaults, also used by bulk
# inserts, which do not run the ORM's).
BILLING_DEFAULTS: dict[str, Any] = {
    "tax_rate": Decimal("0.00"),
    "tax_exemption": TaxExemption.NONE.value,
    "invoicing_flow": InvoicingFlow.AUTOMATIC.value,
    "auto_pay": False,
    "notify_invoice_issued": True,
    "notify_payment_reminder": True,
    "notify_payment_received": True,
    "portal_enabled": False,
}


def normalize_tax_rate(value: Any) -> Decimal:
    """A percent from ``19``, ``'19'``, ``'7.5'``, ``'7.5 %'``; blank is 0. A decimal comma is
    refused rather than guessed, as amounts are."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0.00")
    if isinstance(value, bool | float):
        raise ValueError(f"{value!r} is not a percent (give it as text or an exact decimal)")
    text = str(value).strip().removesuffix("%").strip()
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValueError(f"{value!r} is not a percent (e.g. 19 or 7.5)")
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a percent") from None
    if rate < 0 or rate > MAX_TAX_RATE:
        raise ValueError("must be between 0 and 100")
    if rate != rate.quantize(Decimal(1).scaleb(-TAX_RATE_PLACES)):
        raise ValueError(f"{value!r} has more than {TAX_RATE_PLACES} decimal places")
    two = rate.quantize(Decimal("0.01"))
    return two if two == rate else rate.normalize()


def normalize_flag(value: Any) -> bool:
    """true/false, yes/no, 1/0, on/off (any casing); blank is refused (say which)."""
    if isinstance(value, bool):
        return value
    word = str(value if value is not None else "").strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not true or false (true/false, yes/no, 1/0)")


def _choice(kind: type[StrEnum]) -> Callable[[Any], str]:
    allowed = [member.value for member in kind]

    def normalize(value: Any) -> str:
        text = str(value if value is not None else "").strip().lower().replace("-", "_")
        text = text.replace(" ", "_")
        if text not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return normalize


normalize_tax_exemption = _choice(TaxExemption)
normalize_invoicing_flow = _choice(InvoicingFlow)


def missing_billing_address(values: Mapping[str, Any]) -> list[str]:
    """The parts of a billing address that ``values`` (a customer's fields) lacks."""
    return [part for part in BILLING_ADDRESS_PARTS if not values.get(part)]
