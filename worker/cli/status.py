"""``crmsync status``: how each connection is doing, at a glance.

Per connection: its state (and, when it does no work, why and what to do next), its last
run, how far behind the incremental sync is, unresolved failures, local changes not yet
pushed, and the remaining daily API budget when some process has recorded it in Redis
(the figures and what they mean: ``worker.connection_status``). The broker's queue depth is
shown once (all connections share the queue).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from worker import connection_status
from worker.cli.common import console, handles_errors, print_json, unit_of_work
from worker.failures import OPEN, REPLAYED
from worker.settings import get_settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@handles_errors
def status(as_json: JsonFlag = False) -> None:
    """Per connection: last run, cursor lag, failures, outbox depth, API budget; and the queue."""
    settings = get_settings()
    client = connection_status.redis_client(settings)
    with unit_of_work() as (session, tenant_id):
        rows = connection_status.tenant_status(session, tenant_id, client)
    queue = connection_status.queue(settings)
    if as_json:
        print_json({"queue": queue, "connections": rows})
        return
    table = Table(title="connections", title_justify="left")
    for column in (
        "id",
        "name",
        "status",
        "last run",
        "lag",
        "failures",
        "outbox",
        "API budget left",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        run = row["last_run"]
        budget = row["api_budget"]
        table.add_row(
            str(row["id"]),
            f"{row['name']} ({row['provider']} {row['account_id']})",
            row["status"],
            f"{run['kind']} {run['outcome']} {str(run['started_at'])[:19]}" if run else "never",
            f"{row['cursor_lag_s']:.0f}s" if row["cursor_lag_s"] is not None else "unknown",
            f"{row['failures'][OPEN]} open, {row['failures'][REPLAYED]} replayed",
            str(row["outbox_depth"]),
            f"{budget['remaining']} of {budget['limit']}" if isinstance(budget, dict) else budget,
        )
    console.print(table if rows else "no connections yet (crmsync connect hubspot|salesforce)")
    for row in rows:
        if row["next_step"]:
            # What to do about a connection that does no work, and why it stopped.
            why = f" ({row['status_reason']})" if row["status_reason"] else ""
            console.print(f"connection {row['id']} is {row['status']}{why}", highlight=False)
            console.print(f"  next: {row['next_step']}", highlight=False)
    console.print(f"queue ({queue['broker']}): {queue['depth']} waiting", highlight=False)
