"""``crmsync conflicts``: fields that changed on both sides since the last sync, and how the
field's rule decided each one.

The sync writes these rows (``worker.sync.inbound``) and has already applied the decision;
this module only reads them. A row belongs to the tenant of its connection: another
tenant's rows are never listed, and their ids read as missing.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from customers.errors import NotFound
from customers.sync_state import SyncConflict
from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work
from worker.cli.failures import parse_since
from worker.history import conflict_dict, conflicts_of
from worker.sync.target import PARENT_TYPE

app = typer.Typer(
    help="Fields changed on both sides: both values, the base, the rule and its decision.",
    no_args_is_help=True,
)

PARENT_TYPES = tuple(sorted(set(PARENT_TYPE.values())))


@app.command("list")
@handles_errors
def list_(
    connection: Annotated[
        int | None, typer.Option("--connection", help="Only this connection id.")
    ] = None,
    customer: Annotated[
        int | None, typer.Option(help="Only conflicts on this customer's own record.")
    ] = None,
    local_id: Annotated[
        int | None, typer.Option(help="Only this local id (a customer's or a contact's).")
    ] = None,
    external_id: Annotated[str | None, typer.Option(help="Only this CRM record id.")] = None,
    field: Annotated[str | None, typer.Option(help="Only this field, e.g. name, phone.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only conflicts since: a duration (30m, 12h, 7d) or a date/time."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Conflicts, newest first."""
    with unit_of_work() as (session, tenant_id):
        query = conflicts_of(tenant_id)
        if connection is not None:
            query = query.where(SyncConflict.connection_id == connection)
        if customer is not None:
            query = query.where(
                SyncConflict.local_id == customer, SyncConflict.object_type.in_(PARENT_TYPES)
            )
        if local_id is not None:
            query = query.where(SyncConflict.local_id == local_id)
        if external_id is not None:
            query = query.where(SyncConflict.external_id == external_id)
        if field:
            query = query.where(SyncConflict.field == field)
        if since:
            query = query.where(SyncConflict.created_at >= parse_since(since))
        query = query.order_by(SyncConflict.created_at.desc(), SyncConflict.id.desc())
        rows = [conflict_dict(row) for row in session.scalars(query.limit(limit))]
    if as_json:
        print_json({"conflicts": rows})
        return
    if not rows:
        console.print("no conflicts match")
        return
    table = Table(title=f"conflicts ({len(rows)})", title_justify="left")
    for column in ("id", "when", "connection", "record", "field", "local", "crm", "decision"):
        table.add_column(column, overflow="fold")
    for row in rows:
        decision = row["decision"]
        table.add_row(
            str(row["id"]),
            str(row["created_at"])[:19],
            str(row["connection_id"]),
            f"{row['local_type']} {row['local_id']} / {row['object_type']} {row['external_id']}",
            row["field"],
            repr(row["local_value"]),
            repr(row["remote_value"]),
            f"{decision['rule']}: {decision['winner'] or '?'} won",
        )
    console.print(table)


@app.command()
@handles_errors
def show(
    conflict_id: Annotated[int, typer.Argument(help="Conflict id.")], as_json: JsonFlag = False
) -> None:
    """One conflict: the field, both values, the base they changed from, the rule and what
    it decided."""
    with unit_of_work() as (session, tenant_id):
        conflict = session.scalar(conflicts_of(tenant_id).where(SyncConflict.id == conflict_id))
        if conflict is None:
            raise NotFound("conflict", conflict_id)
        data = conflict_dict(conflict)
    if as_json:
        print_json(data)
        return
    decision = data["decision"]
    local = f"{data['local_type']} {data['local_id']}"
    lines = [
        ("conflict", f"{data['id']} on connection {data['connection_id']}, {data['created_at']}"),
        ("record", f"{local} <-> {data['object_type']} {data['external_id']}"),
        ("field", data["field"]),
        ("base", repr(data["base_value"])),
        ("local", repr(data["local_value"])),
        ("crm", repr(data["remote_value"])),
        ("rule", decision["rule"]),
        ("decision", f"{decision['winner'] or 'unknown'} won: {decision['value']!r}"),
    ]
    for label, value in lines:
        console.print(f"[bold]{label}[/]: {escape(str(value))}", markup=True, highlight=False)
