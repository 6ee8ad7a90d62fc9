"""The ``customers`` sub-app and the options its commands share."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from customers.fields import CUSTOMER_FIELDS

app = typer.Typer(help="List, find, add and change customers.", no_args_is_help=True)

Version = Annotated[
    int | None,
    typer.Option("--expected-version", help="Refuse the change if the customer's version differs."),
]
# The options of add / update, by the field each sets; every other field is set with --set.
OPTION_OF = {
    "name": "--name",
    "email": "--email",
    "phone": "--phone",
    "website": "--website",
    "tax_id": "--tax-id",
    "customer_type": "--type",
    "currency": "--currency",
    "payment_terms_days": "--payment-terms",
    "credit_limit": "--credit-limit",
    "billing_country": "--country",
    "notes": "--notes",
    "status": "--status",
    "tax_rate": "--tax-rate",
    "tax_country": "--tax-country",
    "tax_exemption": "--tax-exemption",
    "legal_entity": "--legal-entity",
    "invoicing_flow": "--invoicing-flow",
    "auto_pay": "--auto-pay",
    "sales_rep_email": "--sales-rep",
    "sales_rep_name": "--sales-rep-name",
}
SET_FIELDS = sorted(set(CUSTOMER_FIELDS) - set(OPTION_OF) - {"custom_properties"})
# Tax and billing options of add / update (``customers.billing``), by field.
TaxRate = Annotated[str | None, typer.Option("--tax-rate", help="Percent, 0-100, e.g. 19 or 7.5.")]
TaxCountry = Annotated[str | None, typer.Option("--tax-country", help="ISO code or name.")]
TaxExemptionOption = Annotated[
    str | None, typer.Option("--tax-exemption", help="none, exempt or reverse_charge.")
]
LegalEntityOption = Annotated[
    str | None,
    typer.Option(
        "--legal-entity", metavar="CODE", help="Which legal entity bills it; '' for none."
    ),
]
InvoicingFlowOption = Annotated[
    str | None, typer.Option("--invoicing-flow", help="automatic, draft or manual.")
]
AutoPay = Annotated[
    bool | None, typer.Option("--auto-pay/--no-auto-pay", help="Charge the payment method on file.")
]
SalesRep = Annotated[
    str | None, typer.Option("--sales-rep", metavar="EMAIL", help="The sales rep's email.")
]
SalesRepName = Annotated[str | None, typer.Option("--sales-rep-name", help="The sales rep's name.")]


def _billing(**options: Any) -> dict[str, Any]:
    """The tax and billing options given, by field."""
    return {field: value for field, value in options.items() if value is not None}


Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="FIELD=VALUE",
        help="Any other field (repeatable), e.g. --set billing_city=Köln. The fields: "
        + ", ".join(SET_FIELDS)
        + ".",
    ),
]
