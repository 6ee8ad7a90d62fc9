"""``crmsync legal-entities``: the tenant's own billing entities.

A customer is billed by one of them (``customers add/update --legal-entity CODE``); see
``customers.legal_entities`` for the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from customers.legal_entities import (
    add_legal_entity,
    check_legal_entity,
    list_legal_entities,
    remove_legal_entity,
)
from customers.models import LegalEntity
from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work

app = typer.Typer(help="The tenant's own billing entities.", no_args_is_help=True)


def entity_dict(entity: LegalEntity, customers: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": entity.code,
        "name": entity.name,
        "country": entity.country,
        "tax_id": entity.tax_id,
    }
    if customers is not None:
        data["customers"] = customers
    return data


@app.command("add")
@handles_errors
def add(
    code: Annotated[str, typer.Argument(help="A short code, e.g. ACME-DE (case-insensitive).")],
    name: Annotated[str, typer.Option(help="The entity's legal name (required).")],
    country: Annotated[str, typer.Option(help="Where it is registered: ISO code or name.")],
    tax_id: Annotated[str | None, typer.Option(help="Its tax id / VAT number.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a legal entity."""
    entity = check_legal_entity(code, name=name, country=country, tax_id=tax_id)
    with unit_of_work() as (session, tenant_id):
        data = entity_dict(add_legal_entity(session, tenant_id, entity))
    if as_json:
        print_json(data)
        return
    console.print(f"added legal entity {data['code']}: {data['name']}", highlight=False)


@app.command("list")
@handles_errors
def list_(as_json: JsonFlag = False) -> None:
    """The tenant's legal entities, with how many live customers each bills."""
    with unit_of_work() as (session, tenant_id):
        rows = [entity_dict(e, count) for e, count in list_legal_entities(session, tenant_id)]
    if as_json:
        print_json(rows)
        return
    table = Table("code", "name", "country", "tax id", "customers", title="legal entities")
    for row in rows:
        table.add_row(
            row["code"], row["name"], row["country"], row["tax_id"] or "", str(row["customers"])
        )
    console.print(table)


@app.command("remove")
@handles_errors
def remove(code: str, as_json: JsonFlag = False) -> None:
    """Remove a legal entity; refused while customers use it."""
    with unit_of_work() as (session, tenant_id):
        remove_legal_entity(session, tenant_id, code)
    if as_json:
        print_json({"code": code.strip().upper(), "removed": True})
        return
    console.print(f"removed legal entity {code.strip().upper()}", highlight=False)
