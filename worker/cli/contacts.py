"""``crmsync contacts``: a customer's people."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from customers import contacts
from worker.cli.common import (
    JsonFlag,
    console,
    contact_dict,
    handles_errors,
    print_json,
    unit_of_work,
)

app = typer.Typer(help="List, add and change a customer's contacts.", no_args_is_help=True)

Roles = Annotated[
    str | None,
    typer.Option(help="Comma-separated: primary, billing, order, shipment, legal or your own."),
]


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@app.command("list")
@handles_errors
def list_(
    customer_id: int,
    removed: Annotated[bool, typer.Option("--removed", help="Include removed contacts.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A customer's contacts, primary first."""
    with unit_of_work() as (session, tenant_id):
        rows = [
            contact_dict(c)
            for c in contacts.list_contacts(
                session, tenant_id, customer_id, include_removed=removed
            )
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"contacts of customer {customer_id}", title_justify="left")
    for column in ("id", "name", "email", "phone", "roles"):
        table.add_column(column)
    for row in rows:
        name = f"{row['first_name']} {row['last_name'] or ''}".strip()
        table.add_row(
            str(row["id"]), name, row["email"] or "", row["phone"] or "", ", ".join(row["roles"])
        )
    console.print(table)


@app.command()
@handles_errors
def add(
    customer_id: int,
    first_name: Annotated[str, typer.Option(help="Required.")],
    last_name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    job_title: Annotated[str | None, typer.Option()] = None,
    roles: Roles = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a contact; with role primary it replaces the current primary contact."""
    with unit_of_work() as (session, tenant_id):
        contact = contacts.add_contact(
            session,
            tenant_id,
            customer_id,
            _given(
                first_name=first_name, last_name=last_name, email=email, phone=phone,
                job_title=job_title, roles=roles,
            ),
        )  # fmt: skip
        contact_id, data = contact.id, contact_dict(contact)
    if as_json:
        print_json(data)
        return
    console.print(f"added contact {contact_id} to customer {customer_id}")


@app.command()
@handles_errors
def update(
    contact_id: int,
    first_name: Annotated[str | None, typer.Option()] = None,
    last_name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    job_title: Annotated[str | None, typer.Option()] = None,
    roles: Roles = None,
    expected_version: Annotated[int | None, typer.Option("--expected-version")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a contact (only the fields given)."""
    with unit_of_work() as (session, tenant_id):
        contact = contacts.update_contact(
            session,
            tenant_id,
            contact_id,
            _given(
                first_name=first_name, last_name=last_name, email=email, phone=phone,
                job_title=job_title, roles=roles,
            ),
            expected_version=expected_version,
        )  # fmt: skip
        data = contact_dict(contact)
    if as_json:
        print_json(data)
        return
    console.print(f"updated contact {contact_id}")


@app.command("set-primary")
@handles_errors
def set_primary(contact_id: int, as_json: JsonFlag = False) -> None:
    """Make a contact its customer's primary contact."""
    with unit_of_work() as (session, tenant_id):
        data = contact_dict(contacts.set_primary(session, tenant_id, contact_id))
    if as_json:
        print_json(data)
        return
    console.print(f"contact {contact_id} is now primary")


@app.command()
@handles_errors
def remove(contact_id: int, as_json: JsonFlag = False) -> None:
    """Remove a contact from lists (the record stays for history)."""
    with unit_of_work() as (session, tenant_id):
        data = contact_dict(contacts.remove_contact(session, tenant_id, contact_id))
    if as_json:
        print_json(data)
        return
    console.print(f"removed contact {contact_id}")
