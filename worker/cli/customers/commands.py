"""``crmsync customers`` list, show, search, add, update, archive, alias and the rest of a
customer's own record; the other commands of the sub-app are in this package's modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from customers import search as search_module
from customers import service
from customers.custom_properties import FIELD as CUSTOM_FIELD
from customers.custom_properties import CustomChanges
from customers.delivery import invoice_to
from customers.duplicates import Keys, duplicates_made
from customers.errors import FieldError, InvalidInput
from customers.fields import CUSTOMER_FIELDS
from customers.links import identity_of
from customers.models import CustomerStatus
from customers.plain import customer_dict
from worker.cli.common import (
    JsonFlag,
    console,
    handles_errors,
    parse_assignments,
    print_json,
    unit_of_work,
)
from worker.cli.customers.options import (
    OPTION_OF,
    SET_FIELDS,
    AutoPay,
    InvoicingFlowOption,
    LegalEntityOption,
    SalesRep,
    SalesRepName,
    Sets,
    TaxCountry,
    TaxExemptionOption,
    TaxRate,
    Version,
    _billing,
    app,
)
from worker.cli.duplicate_guard import AllowDuplicate, refuse_or_warn, reported_refusal
from worker.cli.identity_view import SHOWN_APART, show_apart

Customs = Annotated[
    list[str] | None,
    typer.Option(
        "--custom",
        metavar="KEY=VALUE",
        help="Set one custom property, keeping the others (repeatable); KEY= sets it to "
        "empty text.",
    ),
]
Unsets = Annotated[
    list[str] | None,
    typer.Option(
        "--unset-custom",
        metavar="KEY",
        help="Remove one custom property (repeatable); a key the customer does not have "
        "is an error.",
    ),
]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="TAG", help="Add a tag (repeatable); tags are case-folded."),
]
Untags = Annotated[
    list[str] | None,
    typer.Option(
        "--untag",
        metavar="TAG",
        help="Remove a tag (repeatable); a tag the customer does not have is an error.",
    ),
]


def _fields(
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    website: str | None,
    tax_id: str | None,
    customer_type: str | None,
    currency: str | None,
    payment_terms: str | None,
    credit_limit: str | None,
    country: str | None,
    notes: str | None,
    sets: list[str] | None,
) -> dict[str, Any]:
    given = {
        "name": name,
        "email": email,
        "phone": phone,
        "website": website,
        "tax_id": tax_id,
        "customer_type": customer_type,
        "currency": currency,
        "payment_terms_days": payment_terms,
        "credit_limit": credit_limit,
        "billing_country": country,
        "notes": notes,
    }
    fields: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    fields.update(parse_assignments(sets, "--set"))
    return fields


def _custom_changes(customs: list[str] | None, unsets: list[str] | None) -> CustomChanges:
    """What --custom and --unset-custom ask for. Keys are read as ``--set`` fields are
    (a dash is an underscore)."""
    keys = []
    for key in unsets or []:
        if not key.strip():
            raise InvalidInput.single("--unset-custom", "needs a KEY")
        keys.append(key.strip().replace("-", "_"))
    return CustomChanges(set=parse_assignments(customs, "--custom"), unset=keys)


@contextmanager
def named_as_typed(custom: CustomChanges | None = None) -> Iterator[None]:
    """Errors name the option the user typed (``--payment-terms``, ``--set billing_city``,
    ``--unset-custom fax``), not the directory's field; an unknown ``--set`` field lists the
    known ones."""
    try:
        yield
    except InvalidInput as error:
        named = []
        for problem in error.errors:
            key = problem.field.removeprefix(f"{CUSTOM_FIELD}.")
            if custom is not None and problem.field.startswith(f"{CUSTOM_FIELD}."):
                option = "--custom" if key in custom.set else "--unset-custom"
                if key in custom.set and key in custom.unset:
                    option = "--custom/--unset-custom"
                named.append(FieldError(f"{option} {key}", problem.reason))
            elif problem.field in OPTION_OF:
                named.append(FieldError(OPTION_OF[problem.field], problem.reason))
            elif problem.field == "custom_properties":
                named.append(FieldError("--custom", problem.reason))
            elif problem.field == "tags":
                named.append(FieldError("--tag/--untag", problem.reason))
            elif problem.field in CUSTOMER_FIELDS:
                named.append(FieldError(f"--set {problem.field}", problem.reason))
            elif problem.reason == "is not a known field":
                reason = f"is not a known field; --set takes: {', '.join(SET_FIELDS)}"
                named.append(FieldError(f"--set {problem.field}", reason))
            else:
                named.append(problem)
        raise InvalidInput(named) from None


def _show_table(rows: list[dict[str, Any]], title: str, *, score: bool = False) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("id", "name", "email", "status", "country", "invoiceable", "complete"):
        table.add_column(column, overflow="fold")
    if score:
        table.add_column("score", justify="right")
    for row in rows:
        cells = [
            str(row["id"]),
            row["name"],
            row["email"] or "",
            row["status"] + (" (archived)" if row["archived_at"] else ""),
            row["billing_country"] or "",
            "yes" if row["can_be_invoiced"] else "no",
            "no" if row["incomplete"] else "yes",
        ]
        if score:
            cells.append(f"{row['score']:.0f} {row['matched_on']}")
        table.add_row(*cells)
    console.print(table)


@app.command("list")
@handles_errors
def list_(
    archived: Annotated[
        bool, typer.Option("--archived", help="Include archived customers.")
    ] = False,
    inactive: Annotated[
        bool, typer.Option("--inactive", help="Include inactive customers.")
    ] = False,
    status: Annotated[
        CustomerStatus | None, typer.Option(help="Only this status (inactive ones included).")
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Only customers with this tag (repeatable: all)."
        ),
    ] = None,
    incomplete: Annotated[
        bool,
        typer.Option(
            "--incomplete", help="Only customers missing an email or billing street/city/country."
        ),
    ] = False,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Live customers by name: active and blocked ones (inactive ones with --inactive or
    --status inactive, archived ones with --archived)."""
    with unit_of_work() as (session, tenant_id):
        rows, total = service.list_customers(
            session,
            tenant_id,
            include_archived=archived,
            include_inactive=inactive,
            status=status.value if status else None,
            tags=tags or (),
            incomplete=incomplete,
            limit=per_page,
            offset=(page - 1) * per_page,
        )
        data = [customer_dict(c) for c in rows]
    if as_json:
        print_json({"total": total, "page": page, "per_page": per_page, "customers": data})
        return
    _show_table(data, f"customers {len(data)} of {total} (page {page})")


@app.command()
@handles_errors
def show(customer_id: int, as_json: JsonFlag = False) -> None:
    """Everything about one customer, with its contacts, CRM links and aliases, and where
    its invoices go (invoice_to) and why (invoice_to_source)."""
    with unit_of_work() as (session, tenant_id):
        customer = service.get_customer(session, tenant_id, customer_id)
        data = customer_dict(customer, with_contacts=True)
        data.update(identity_of(session, tenant_id, customer_id))
        data.update(invoice_to(customer).as_dict())
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False, title=f"customer {customer_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        if key not in SHOWN_APART and value not in (None, {}, []):
            table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    for key, value in data["custom_properties"].items():  # sorted by key
        table.add_row(f"custom {key}", str(value))
    console.print(table)
    for contact in data["contacts"]:
        primary = " (primary)" if contact["is_primary"] else ""
        console.print(
            f"  contact {contact['id']}: {contact['first_name']} {contact['last_name'] or ''}"
            f" <{contact['email'] or '-'}> {', '.join(contact['roles'])}{primary}"
            + (
                f"; receives {', '.join(contact['communications'])}"
                if contact["communications"]
                else ""
            ),
            highlight=False,
        )
    show_apart(data)


@app.command()
@handles_errors
def search(
    query: str,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Find customers: exact by id, email or alias (erp:C-1001, or C-1001), fuzzy by name."""
    with unit_of_work() as (session, tenant_id):
        result = search_module.search_customers(
            session, tenant_id, query, page=page, per_page=per_page
        )
        data = [
            {**customer_dict(m.customer), "score": m.score, "matched_on": m.matched_on}
            for m in result.matches
        ]
    if as_json:
        print_json({"total": result.total, "page": page, "per_page": per_page, "matches": data})
        return
    _show_table(
        data, f"{result.total} match(es) for {query!r} (page {page} of {result.pages})", score=True
    )


@app.command()
@handles_errors
def add(
    name: Annotated[str, typer.Option(help="Customer name (required).")],
    email: Annotated[str, typer.Option(help="Billing email (required; any casing).")],
    phone: Annotated[str | None, typer.Option()] = None,
    website: Annotated[str | None, typer.Option()] = None,
    tax_id: Annotated[str | None, typer.Option(help="Tax id / VAT number.")] = None,
    customer_type: Annotated[
        str | None, typer.Option("--type", help="business, consumer or government.")
    ] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code, e.g. EUR.")] = None,
    payment_terms: Annotated[str | None, typer.Option(help="e.g. 'net 30'.")] = None,
    credit_limit: Annotated[str | None, typer.Option(help="Not negative, e.g. 5000.00.")] = None,
    country: Annotated[str | None, typer.Option(help="Billing country: ISO code or name.")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    sets: Sets = None,
    customs: Customs = None,
    tags: Tags = None,
    tax_rate: TaxRate = None,
    tax_country: TaxCountry = None,
    tax_exemption: TaxExemptionOption = None,
    legal_entity: LegalEntityOption = None,
    invoicing_flow: InvoicingFlowOption = None,
    auto_pay: AutoPay = None,
    sales_rep: SalesRep = None,
    sales_rep_name: SalesRepName = None,
    allow_duplicate: AllowDuplicate = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a customer. Every field is checked first; a bad one writes nothing. Where the
    tenant requires a billing address (the default), give --set billing_street=...,
    --set billing_city=... and --country. A sure duplicate of another customer is refused
    (see --allow-duplicate), a likely one warned of."""
    fields = _fields(
        name=name,
        email=email,
        phone=phone,
        website=website,
        tax_id=tax_id,
        customer_type=customer_type,
        currency=currency,
        payment_terms=payment_terms,
        credit_limit=credit_limit,
        country=country,
        notes=notes,
        sets=sets,
    )
    fields |= _billing(
        tax_rate=tax_rate,
        tax_country=tax_country,
        tax_exemption=tax_exemption,
        legal_entity=legal_entity,
        invoicing_flow=invoicing_flow,
        auto_pay=auto_pay,
        sales_rep_email=sales_rep,
        sales_rep_name=sales_rep_name,
    )
    if customs:
        fields["custom_properties"] = parse_assignments(customs, "--custom")
    with (
        reported_refusal(as_json=as_json),
        named_as_typed(CustomChanges(set=fields.get(CUSTOM_FIELD, {}))),
        unit_of_work() as (session, tenant_id),
    ):
        customer = service.create_customer(session, tenant_id, fields, tags=tags or ())
        check = duplicates_made(session, tenant_id, customer)
        refuse_or_warn(session, check, allow=allow_duplicate)
        data = customer_dict(customer)
    if as_json:
        print_json(data)
    else:
        console.print(
            f"added customer {data['id']}: {data['name']} <{data['email']}>", highlight=False
        )


@app.command()
@handles_errors
def update(
    customer_id: int,
    name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    website: Annotated[str | None, typer.Option()] = None,
    tax_id: Annotated[str | None, typer.Option()] = None,
    customer_type: Annotated[str | None, typer.Option("--type")] = None,
    currency: Annotated[str | None, typer.Option()] = None,
    payment_terms: Annotated[str | None, typer.Option()] = None,
    credit_limit: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option(help="Billing country.")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="active, inactive or blocked.")] = None,
    sets: Sets = None,
    customs: Customs = None,
    unsets: Unsets = None,
    tags: Tags = None,
    untags: Untags = None,
    tax_rate: TaxRate = None,
    tax_country: TaxCountry = None,
    tax_exemption: TaxExemptionOption = None,
    legal_entity: LegalEntityOption = None,
    invoicing_flow: InvoicingFlowOption = None,
    auto_pay: AutoPay = None,
    sales_rep: SalesRep = None,
    sales_rep_name: SalesRepName = None,
    expected_version: Version = None,
    allow_duplicate: AllowDuplicate = False,
    as_json: JsonFlag = False,
) -> None:
    """Change fields of a customer (only those given). --custom and --unset-custom change
    single custom properties and keep the others, --tag and --untag single tags; sets are
    applied before removals. A change
    that makes it a sure duplicate of another customer is refused (see --allow-duplicate), a
    likely one warned of."""
    fields = _fields(
        name=name,
        email=email,
        phone=phone,
        website=website,
        tax_id=tax_id,
        customer_type=customer_type,
        currency=currency,
        payment_terms=payment_terms,
        credit_limit=credit_limit,
        country=country,
        notes=notes,
        sets=sets,
    )
    if status is not None:
        fields["status"] = status
    fields |= _billing(
        tax_rate=tax_rate,
        tax_country=tax_country,
        tax_exemption=tax_exemption,
        legal_entity=legal_entity,
        invoicing_flow=invoicing_flow,
        auto_pay=auto_pay,
        sales_rep_email=sales_rep,
        sales_rep_name=sales_rep_name,
    )
    custom = _custom_changes(customs, unsets)
    with (
        reported_refusal(as_json=as_json),
        named_as_typed(custom),
        unit_of_work() as (session, tenant_id),
    ):
        current = service.get_customer(session, tenant_id, customer_id)
        before, keys_before = current.version, Keys.of(current)
        customer = service.update_customer(
            session,
            tenant_id,
            customer_id,
            fields,
            custom=custom,
            add_tags=tags or (),
            remove_tags=untags or (),
            expected_version=expected_version,
        )
        check = duplicates_made(session, tenant_id, customer, before=keys_before)
        refuse_or_warn(session, check, allow=allow_duplicate)
        data = customer_dict(customer)
    if as_json:
        print_json(data)
    elif data["version"] == before:
        console.print(f"customer {customer_id}: nothing changed")
    else:
        console.print(f"updated customer {customer_id} (version {data['version']})")


def _state_command(action: str, function: Any, doc: str) -> None:
    @app.command(action, help=doc)
    @handles_errors
    def command(
        customer_id: int, expected_version: Version = None, as_json: JsonFlag = False
    ) -> None:
        with unit_of_work() as (session, tenant_id):
            customer = function(session, tenant_id, customer_id, expected_version=expected_version)
            data = customer_dict(customer)
        if as_json:
            print_json(data)
        else:
            console.print(f"customer {customer_id}: {action} done")


_state_command(
    "archive", service.archive_customer, "Archive: out of active lists, still reachable."
)
_state_command("reactivate", service.reactivate_customer, "Unarchive and set status active.")
_state_command("block", service.block_customer, "Block: keep listed, never invoice.")


@app.command()
@handles_errors
def delete(
    customer_id: int,
    purge: Annotated[
        bool, typer.Option("--purge", help="Remove the row for good (refused while referenced).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Soft-delete a customer (kept for history); with --purge, remove it entirely."""
    with unit_of_work() as (session, tenant_id):
        if purge:
            service.purge_customer(session, tenant_id, customer_id)
        else:
            service.delete_customer(session, tenant_id, customer_id)
    if as_json:
        print_json({"id": customer_id, "deleted": True, "purged": purge})
        return
    console.print(f"customer {customer_id}: {'purged' if purge else 'deleted (kept for history)'}")


@app.command()
@handles_errors
def reference(customer_id: int, system: str, ref: str, as_json: JsonFlag = False) -> None:
    """Record that an outside system (e.g. billing invoice INV-1) points at a customer: an
    alias of it (see `customers alias`), which names no other customer."""
    with unit_of_work() as (session, tenant_id):
        row = service.add_reference(session, tenant_id, customer_id, system=system, reference=ref)
        data = {"customer_id": customer_id, "system": row.system, "reference": row.reference}
    if as_json:
        print_json(data)
        return
    console.print(f"customer {customer_id}: referenced by {system}:{ref}")
