"""``crmsync sales-reps``: the tenant's sales reps and who they are in each CRM."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work
from worker.sales_reps import match_sales_reps, sales_reps

app = typer.Typer(help="Sales reps, matched to CRM owners by email.", no_args_is_help=True)

CustomerOption = Annotated[
    int | None, typer.Option("--customer", help="Only the sales rep of this customer.")
]


@app.command("list")
@handles_errors
def list_(customer: CustomerOption = None, as_json: JsonFlag = False) -> None:
    """The sales reps of live customers, with how many customers each has."""
    with unit_of_work() as (session, tenant_id):
        rows = [rep.as_dict() for rep in sales_reps(session, tenant_id, customer)]
    if as_json:
        print_json([{key: row[key] for key in ("email", "name", "customers")} for row in rows])
        return
    table = Table("email", "name", "customers", title="sales reps", title_justify="left")
    for row in rows:
        table.add_row(row["email"], row["name"] or "", str(row["customers"]))
    console.print(table)


@app.command("match")
@handles_errors
def match(customer: CustomerOption = None, as_json: JsonFlag = False) -> None:
    """Find each sales rep in every active connection, by email: the HubSpot owner id, the
    Salesforce User Id. Exits 1 when a CRM did not answer."""
    with unit_of_work() as (session, tenant_id):
        rows = [rep.as_dict() for rep in match_sales_reps(session, tenant_id, customer)]
    failed = any(m["error"] for row in rows for m in row["matches"])
    if as_json:
        print_json(rows)
    else:
        table = Table("email", "customers", "connection", "owner", title="sales reps in the CRMs")
        for row in rows:
            for m in row["matches"] or [None]:
                if m is None:
                    where, owner = "(no active connections)", ""
                else:
                    where = f"{m['connection']} {m['provider']}"
                    owner = f"error: {m['error']}" if m["error"] else m["owner_id"] or "not found"
                table.add_row(row["email"], str(row["customers"]), where, owner)
        console.print(table)
    if failed:
        raise typer.Exit(1)
