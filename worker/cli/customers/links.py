"""``crmsync customers link / unlink / alias / copy``: a customer's identity.

Registered on the ``customers`` sub-app (imported by ``worker.cli.customers``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from connectors.errors import ConnectorError
from customers import aliases as alias_service
from customers.copies import copy_customer
from customers.duplicates import duplicates_made
from customers.errors import FieldError, InvalidInput
from customers.plain import customer_dict
from customers.service import get_customer
from worker.cli.common import (
    JsonFlag,
    console,
    fail,
    handles_errors,
    parse_assignments,
    print_json,
    unit_of_work,
)
from worker.cli.customers.options import Sets, app
from worker.cli.duplicate_guard import AllowDuplicate, refuse_or_warn, reported_refusal
from worker.database import sessions
from worker.jobs import enqueue

ConnectionOption = Annotated[
    int, typer.Option("--connection", help="The connection (see `crmsync connections list`).")
]

alias_app = typer.Typer(
    help="A customer's aliases: its (system, id) pairs in other systems.", no_args_is_help=True
)
app.add_typer(alias_app, name="alias")


def _tenant_id() -> int:
    with unit_of_work() as (_, tenant_id):
        return tenant_id


def _push_now(connection_id: int, customer_id: int) -> None:
    """Send local values (and our id) to the CRM now (in the embedded mode, in this
    command); the outbox would bring them there with the next push anyway."""
    from worker.embedded import jobs_run_here

    with jobs_run_here():
        enqueue.send(enqueue.PUSH_RECORDS, connection_id, "customer", [customer_id])


@app.command()
@handles_errors
def link(
    customer_id: int,
    connection: ConnectionOption,
    external_id: Annotated[
        str, typer.Option("--external-id", help="The CRM record's id (company / account).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Link a customer to an existing CRM record and merge the two.

    The record must exist and be linked to no customer; the customer must not be linked on
    that connection. Where one side is empty the other fills it; where both differ, the
    field's sync rule decides and a conflict is recorded (`crmsync conflicts list`)."""
    from worker.sync.linking import link_customer

    tenant_id = _tenant_id()
    try:
        outcome = link_customer(sessions(), tenant_id, customer_id, connection, external_id)
    except ConnectorError as error:
        fail(f"the CRM could not be read: {error}")
    if outcome.needs_push:
        _push_now(connection, customer_id)
    if as_json:
        print_json(outcome.as_dict())
        return
    console.print(
        f"customer {customer_id}: linked to {outcome.provider} {outcome.object_type} "
        f"{outcome.external_id} (connection {connection})",
        highlight=False,
    )
    for name, value in outcome.filled_locally.items():
        console.print(f"  from the CRM: {name} = {value}", highlight=False, markup=False)
    for name in outcome.to_push:
        console.print(f"  to the CRM: {name}", highlight=False, markup=False)
    for conflict in outcome.conflicts:
        console.print(
            f"  conflict {conflict['field']}: local {conflict['local']!r}, CRM "
            f"{conflict['crm']!r}; kept {conflict['kept']!r} ({conflict['rule']})",
            highlight=False,
            markup=False,
        )


@app.command()
@handles_errors
def unlink(customer_id: int, connection: ConnectionOption, as_json: JsonFlag = False) -> None:
    """Remove a customer's link to its CRM record on a connection; neither is deleted.

    Our id is taken out of the CRM record, so the sync does not take it for this
    customer's again."""
    from worker.sync.linking import unlink_customer

    tenant_id = _tenant_id()
    try:
        outcome = unlink_customer(sessions(), tenant_id, customer_id, connection)
    except ConnectorError as error:
        fail(f"the CRM record could not be changed (still linked): {error}")
    if as_json:
        print_json(outcome.as_dict())
        return
    console.print(
        f"customer {customer_id}: unlinked from {outcome.provider} {outcome.object_type} "
        f"{outcome.external_id} (connection {connection}); both records are kept"
        + ("; our id was removed from the CRM record" if outcome.id_released else ""),
        highlight=False,
    )
    if outcome.note:
        console.print(f"  note: {outcome.note}", highlight=False)


@alias_app.command("add")
@handles_errors
def alias_add(customer_id: int, system: str, reference: str, as_json: JsonFlag = False) -> None:
    """Give a customer an alias, e.g. `customers alias add 7 erp C-1001`. An alias names one
    customer of the tenant."""
    with unit_of_work() as (session, tenant_id):
        row = alias_service.add_alias(
            session, tenant_id, customer_id, system=system, reference=reference
        )
        data = {"customer_id": customer_id, "system": row.system, "reference": row.reference}
    if as_json:
        print_json(data)
        return
    console.print(
        f"customer {customer_id}: alias {data['system']}:{data['reference']}", highlight=False
    )


@alias_app.command("remove")
@handles_errors
def alias_remove(customer_id: int, system: str, reference: str, as_json: JsonFlag = False) -> None:
    """Take an alias from a customer."""
    with unit_of_work() as (session, tenant_id):
        alias = alias_service.remove_alias(
            session, tenant_id, customer_id, system=system, reference=reference
        )
    data = {"customer_id": customer_id, "system": alias.system, "reference": alias.reference}
    if as_json:
        print_json({**data, "removed": True})
        return
    console.print(f"customer {customer_id}: alias {alias} removed", highlight=False)


@alias_app.command("list")
@handles_errors
def alias_list(customer_id: int, as_json: JsonFlag = False) -> None:
    """A customer's aliases."""
    with unit_of_work() as (session, tenant_id):
        get_customer(session, tenant_id, customer_id)
        rows = alias_service.aliases_of(session, customer_id)
    data = [{"system": alias.system, "reference": alias.reference} for alias in rows]
    if as_json:
        print_json({"customer_id": customer_id, "aliases": data})
        return
    title = f"customer {customer_id}: {len(data)} alias(es)"
    table = Table("system", "reference", title=title, title_justify="left")
    for row in data:
        table.add_row(row["system"], row["reference"])
    console.print(table)


@contextmanager
def _named_for_copy() -> Iterator[None]:
    """Errors name the option of ``copy`` the user typed: --name, --email or --set FIELD."""
    try:
        yield
    except InvalidInput as error:
        named = [
            FieldError(COPY_OPTIONS.get(e.field, f"--set {e.field}"), e.reason)
            for e in error.errors
        ]
        raise InvalidInput(named) from None


COPY_OPTIONS = {"name": "--name", "email": "--email"}


@app.command()
@handles_errors
def copy(
    customer_id: int,
    name: Annotated[str, typer.Option(help="The new customer's name (required).")],
    email: Annotated[
        str | None, typer.Option(help="The new customer's email (not copied; optional).")
    ] = None,
    sets: Sets = None,
    allow_duplicate: AllowDuplicate = False,
    as_json: JsonFlag = False,
) -> None:
    """Make a new customer with another's settings.

    Copied: type, currency, payment terms, credit limit, addresses, category and custom
    properties. Not copied: email, phone, website, tax id, registration number, status,
    notes, contacts, links, aliases and history. Validated and checked for duplicates as
    `customers add` is."""
    changes = parse_assignments(sets, "--set")
    with (
        reported_refusal(as_json=as_json),
        _named_for_copy(),
        unit_of_work() as (session, tenant_id),
    ):
        customer = copy_customer(
            session, tenant_id, customer_id, name=name, email=email, changes=changes
        )
        check = duplicates_made(session, tenant_id, customer)
        refuse_or_warn(session, check, allow=allow_duplicate)
        data = customer_dict(customer)
    if as_json:
        print_json({**data, "copied_from": customer_id})
        return
    console.print(
        f"added customer {data['id']}: {data['name']} (a copy of customer {customer_id})",
        highlight=False,
    )
