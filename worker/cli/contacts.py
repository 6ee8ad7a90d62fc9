"""``crmsync contacts``: a customer's people."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from customers import contacts
from customers.delivery import normalize_communications
from customers.errors import FieldError, InvalidInput
from customers.plain import contact_dict
from worker.cli.common import (
    JsonFlag,
    console,
    handles_errors,
    print_json,
    unit_of_work,
)

app = typer.Typer(help="List, add and change a customer's contacts.", no_args_is_help=True)

Roles = Annotated[
    str | None,
    typer.Option(help="Comma-separated: primary, billing, order, shipment, legal or your own."),
]
Receives = Annotated[
    list[str] | None,
    typer.Option(
        "--receives",
        metavar="COMMUNICATION",
        help="A communication the contact receives (repeatable): billing, updates, legal or "
        "a label of your own (a lowercase letter, then letters, digits, - and _).",
    ),
]
NoReceives = Annotated[
    list[str] | None,
    typer.Option(
        "--no-receives",
        metavar="COMMUNICATION",
        help="A communication the contact no longer receives (repeatable); one it does not "
        "receive is an error.",
    ),
]
Department = Annotated[str | None, typer.Option(help="e.g. Accounts payable.")]
Notes = Annotated[str | None, typer.Option(help="Free text about the contact.")]


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def changed_communications(
    current: list[str], receives: list[str] | None, no_receives: list[str] | None
) -> list[str]:
    """The contact's communications with --receives added and --no-receives taken away;
    errors name the option and the value typed."""
    problems: list[FieldError] = []
    added: list[str] = []
    removed: list[str] = []
    for option, given, into in (
        ("--receives", receives, added),
        ("--no-receives", no_receives, removed),
    ):
        for value in given or []:
            try:
                into.extend(normalize_communications([value]))
            except InvalidInput as error:
                problems.extend(FieldError(f"{option} {value}", e.reason) for e in error.errors)
    for label in removed:
        if label not in current and label not in added:
            problems.append(FieldError(f"--no-receives {label}", "the contact does not receive it"))
        if label in added:
            problems.append(FieldError(f"--receives/--no-receives {label}", "given to both"))
    if problems:
        raise InvalidInput(problems)
    kept = [label for label in current if label not in removed]
    return kept + [label for label in added if label not in kept]


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
    for column in ("id", "name", "email", "phone", "roles", "receives", "department"):
        table.add_column(column)
    for row in rows:
        name = f"{row['first_name']} {row['last_name'] or ''}".strip()
        cells = [str(row["id"]), name, row["email"] or "", row["phone"] or ""]
        cells += [", ".join(row["roles"]), ", ".join(row["communications"])]
        table.add_row(*cells, row["department"] or "")
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
    department: Department = None,
    notes: Notes = None,
    receives: Receives = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a contact; with role primary it replaces the current primary contact."""
    with unit_of_work() as (session, tenant_id):
        contact = contacts.add_contact(
            session,
            tenant_id,
            customer_id,
            _given(
                first_name=first_name,
                last_name=last_name,
                email=email,
                phone=phone,
                job_title=job_title,
                roles=roles,
                department=department,
                notes=notes,
                communications=receives,
            ),
        )
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
    department: Department = None,
    notes: Notes = None,
    receives: Receives = None,
    no_receives: NoReceives = None,
    expected_version: Annotated[int | None, typer.Option("--expected-version")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a contact (only the fields given). --receives and --no-receives add and take
    away single communications and keep the others."""
    with unit_of_work() as (session, tenant_id):
        changes = _given(
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            job_title=job_title,
            roles=roles,
            department=department,
            notes=notes,
        )
        if receives or no_receives:
            current = contacts.get_contact(session, tenant_id, contact_id).communications
            changes["communications"] = changed_communications(current, receives, no_receives)
        contact = contacts.update_contact(
            session, tenant_id, contact_id, changes, expected_version=expected_version
        )
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
