"""The ``crmsync`` command."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from worker.cli import (  # _startup first: it checks the settings the others read
    _startup,  # noqa: F401
    conflicts,
    connections,
    contacts,
    customers,
    db,
    failures,
    reviews,
    runs,
    tenants,
    users,
)
from worker.cli import sync as sync_commands
from worker.cli.common import state
from worker.cli.demo import demo
from worker.cli.prune import prune
from worker.cli.sandbox import app as sandbox_app
from worker.cli.status import status
from worker.console.serve import console as serve_console
from worker.scheduler import scheduler
from worker.settings import get_settings
from worker.webhooks.serve import webhooks

app = typer.Typer(
    help="crmsync keeps your customer directory in two-way sync with HubSpot and Salesforce.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(customers.app, name="customers")
app.add_typer(contacts.app, name="contacts")
app.command("webhooks")(webhooks)
app.command("scheduler")(scheduler)
app.add_typer(sync_commands.connect_app, name="connect")
app.add_typer(connections.app, name="connections")
app.command("sync")(sync_commands.sync)
app.command("worker")(sync_commands.worker)
app.command("demo")(demo)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(reviews.app, name="reviews")
app.add_typer(failures.app, name="failures")
app.add_typer(runs.app, name="runs")
app.add_typer(conflicts.app, name="conflicts")
app.add_typer(tenants.app, name="tenants")
app.add_typer(users.app, name="users")
app.command("console")(serve_console)
app.command("status")(status)
app.command("prune")(prune)


@app.callback()
def root(
    tenant: Annotated[
        str | None,
        typer.Option(help="Tenant to act on (default: CRMSYNC_TENANT, else 'default')."),
    ] = None,
) -> None:
    state.tenant = tenant
    level = get_settings().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        # Commands report what migrations did themselves; alembic's INFO lines are noise.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def main() -> None:
    app()
