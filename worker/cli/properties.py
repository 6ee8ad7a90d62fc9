"""``crmsync properties``: the tenant's custom property definitions.

A definition types one custom property key (text, number, date, bool or one of a list);
values set with ``customers add/update --custom KEY=VALUE`` and imported from
``custom.KEY`` columns are then checked and stored in that type's form. See
``customers.property_definitions`` for the rules.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from customers.models import PropertyType
from customers.property_definitions import (
    add_definition,
    check_definition,
    definitions_of,
    remove_definition,
)
from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work

app = typer.Typer(help="Define typed custom properties (per tenant).", no_args_is_help=True)

TYPES = ", ".join(member.value for member in PropertyType)


@app.command("add")
@handles_errors
def add(
    key: Annotated[str, typer.Argument(help="The custom property key, e.g. segment.")],
    value_type: Annotated[str, typer.Option("--type", help=f"One of {TYPES}.")] = "text",
    label: Annotated[str | None, typer.Option(help="A name to show (default: the key).")] = None,
    group: Annotated[str | None, typer.Option(help="A heading to show it under.")] = None,
    options: Annotated[
        list[str] | None,
        typer.Option("--option", help="An allowed value of an enum property (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Define a custom property key. Refused while a customer holds a value for the key
    that the type does not take."""
    definition = check_definition(
        key, label=label, group=group, kind=value_type, options=options or []
    )
    with unit_of_work() as (session, tenant_id):
        add_definition(session, tenant_id, definition)
    if as_json:
        print_json(definition.as_dict())
        return
    console.print(f"defined custom property {definition.key} ({definition.type})", highlight=False)


@app.command("list")
@handles_errors
def list_(as_json: JsonFlag = False) -> None:
    """The tenant's definitions, by group and key."""
    with unit_of_work() as (session, tenant_id):
        rows = [definition.as_dict() for definition in definitions_of(session, tenant_id).values()]
    if as_json:
        print_json(rows)
        return
    table = Table("key", "label", "group", "type", "options", title="custom properties")
    for row in rows:
        table.add_row(
            row["key"], row["label"], row["group"] or "", row["type"], ", ".join(row["options"])
        )
    console.print(table)


@app.command("remove")
@handles_errors
def remove(key: str, as_json: JsonFlag = False) -> None:
    """Forget a definition. Customers keep their values; the key takes any text again."""
    with unit_of_work() as (session, tenant_id):
        holders = remove_definition(session, tenant_id, key.strip())
    if as_json:
        print_json({"key": key.strip(), "removed": True, "customers_with_values": holders})
        return
    console.print(
        f"removed the definition of {key.strip()}; {holders} customer(s) keep their values",
        highlight=False,
    )
