"""``crmsync connections``: list the tenant's CRM connections and run their lifecycle
(pause, resume, remove, change the schedule or the map).

The states and what each command does to one are in ``worker.sync.lifecycle``; this module
only reads options, checks a map file before anything is saved, and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from customers.sync_state import Connection
from worker.cli.common import JsonFlag, console, fail, handles_errors, print_json, unit_of_work
from worker.cli.maps import check_map, print_fields
from worker.sync import lifecycle

app = typer.Typer(
    help="CRM connections: list, pause, resume, remove, change schedule or map.",
    no_args_is_help=True,
)

ConnectionId = Annotated[int, typer.Argument(help="Connection id (crmsync connections list).")]


def _print(data: dict[str, Any], as_json: bool, done: str) -> None:
    if as_json:
        print_json(data)
        return
    console.print(f"connection {data['id']} ({data['name']}): {done}; now {data['status']}")
    if data["next_step"]:
        console.print(f"next: {data['next_step']}", style="dim", highlight=False)


@app.command("list")
@handles_errors
def list_connections(as_json: JsonFlag = False) -> None:
    """Connections of the tenant, their state, and the URL to register for Salesforce
    outbound messages."""
    with unit_of_work() as (session, tenant_id):
        rows = [
            lifecycle.view(connection)
            for connection in session.scalars(
                select(Connection).where(Connection.tenant_id == tenant_id).order_by(Connection.id)
            )
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="connections", title_justify="left")
    for column in ("id", "provider", "account", "name", "status", "auto-create"):
        table.add_column(column)
    for row in rows:
        cells = [str(row[key]) for key in ("id", "provider", "account_id", "name", "status")]
        table.add_row(*cells, "yes" if row["auto_create"] else "no")
    console.print(table)
    for row in rows:
        if row["next_step"]:
            console.print(f"connection {row['id']}: {row['next_step']}", highlight=False)


@app.command()
@handles_errors
def pause(connection_id: ConnectionId, as_json: JsonFlag = False) -> None:
    """Stop scheduling the connection and drop its webhook events until it is resumed
    (polling catches up then)."""
    with unit_of_work() as (session, tenant_id):
        data = lifecycle.view(lifecycle.pause(session, tenant_id, connection_id))
    _print(data, as_json, "paused")


@app.command()
@handles_errors
def resume(connection_id: ConnectionId, as_json: JsonFlag = False) -> None:
    """Schedule a paused or auth_failed connection again; for auth_failed, the next job
    tells whether the credentials work now."""
    with unit_of_work() as (session, tenant_id):
        data = lifecycle.view(lifecycle.resume(session, tenant_id, connection_id))
    _print(data, as_json, "resumed")


@app.command()
@handles_errors
def remove(connection_id: ConnectionId, as_json: JsonFlag = False) -> None:
    """Delete the stored credentials and stop all work of the connection. Customers,
    contacts, links and history (runs, conflicts, failures) stay; connecting the same
    account again brings the connection back with its links."""
    with unit_of_work() as (session, tenant_id):
        data = lifecycle.view(lifecycle.remove(session, tenant_id, connection_id))
    _print(data, as_json, "credentials deleted, no more work")


@app.command("set")
@handles_errors
def set_(
    connection_id: ConnectionId,
    sync_interval_s: Annotated[
        float | None,
        typer.Option(min=1.0, help="Seconds between incremental syncs (the scheduler's)."),
    ] = None,
    push_interval_s: Annotated[
        float | None,
        typer.Option(min=1.0, help="Seconds between outbox sweeps (the scheduler's)."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Your own field map file (YAML), checked before saving.")
    ] = None,
    shipped_mapping: Annotated[
        bool, typer.Option("--shipped-mapping", help="Go back to the map shipped with crmsync.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a connection's sync intervals or its field map; nothing is saved unless
    everything given is valid."""
    if mapping is not None and shipped_mapping:
        fail("give --mapping or --shipped-mapping, not both; nothing was changed", code=2)
    intervals = {
        name: value
        for name, value in (
            ("sync_interval_s", sync_interval_s),
            ("push_interval_s", push_interval_s),
        )
        if value is not None
    }
    if not intervals and mapping is None and not shipped_mapping:
        fail(
            "nothing to change: give --sync-interval-s, --push-interval-s, --mapping or "
            "--shipped-mapping",
            code=2,
        )
    # Workers may run in another folder: the map is stored by its absolute path.
    map_file = str(mapping.resolve()) if mapping is not None else None
    with unit_of_work() as (session, tenant_id):
        connection = lifecycle.find(session, tenant_id, connection_id)
        if map_file is not None:
            check_map(connection.provider, map_file, nothing="nothing was changed")
        changed = lifecycle.change(
            session,
            tenant_id,
            connection_id,
            intervals=intervals,
            mapping=map_file,
            shipped_mapping=shipped_mapping,
        )
        data = lifecycle.view(changed)
    shown: list[Any] = []
    if map_file is not None or shipped_mapping:
        data["fields"] = _set_up_fields(connection_id, shown)
    _print(data, as_json, "changed")
    if shown and not as_json:
        print_fields(data["provider"], shown)
    elif "fields" in data and not as_json:
        console.print(
            f"the map is saved, its CRM fields not set up ({data['fields']['reason']}); "
            "a sync leaves out the fields the CRM lacks",
            highlight=False,
        )


def _set_up_fields(connection_id: int, reports: list[Any]) -> dict[str, Any]:
    """Make the new map's CRM fields (HubSpot) or name the missing ones (Salesforce), as
    ``connect`` does; the report is added to ``reports``. The map is saved already: a CRM
    that cannot be reached now only delays this to the next sync, which leaves out what
    the CRM lacks."""
    from connectors.errors import ConnectorError
    from customers.sync_state import ConnectionStatus
    from worker.sync import connections
    from worker.sync.target import SyncTarget

    with unit_of_work() as (session, tenant_id):
        connection = lifecycle.find(session, tenant_id, connection_id)
        if connection.status != ConnectionStatus.ACTIVE:
            return {"set_up": False, "reason": f"the connection is {connection.status}"}
        target = SyncTarget.from_connection(connection)
        try:
            report = connections.connector(connection).ensure_setup(target.fields)
        except ConnectorError as error:
            return {"set_up": False, "reason": f"the fields were not set up: {error}"}
    reports.append(report)
    return {
        "set_up": True,
        "created": list(report.created),
        "missing": [problem.describe() for problem in report.problems],
    }
