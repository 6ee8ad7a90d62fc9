"""The ``crmsync`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from worker import logs, tracing
from worker.cli import (  # _startup first: it checks the settings the others read
    _startup,  # noqa: F401
    conflicts,
    connections,
    contacts,
    customers,
    db,
    failures,
    legal_entities,
    properties,
    reviews,
    runs,
    sales_reps,
    tenants,
    users,
)
from worker.cli import sync as sync_commands
from worker.cli.common import fail, state
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
app.add_typer(properties.app, name="properties")
app.add_typer(legal_entities.app, name="legal-entities")
app.add_typer(sales_reps.app, name="sales-reps")
app.command("status")(status)
app.command("prune")(prune)


# Long-running services: JSON log lines (and traces when enabled). Other commands talk to a
# person, in text.
SERVICES = ("webhooks", "scheduler", "worker", "console")


@app.callback()
def root(
    context: typer.Context,
    tenant: Annotated[
        str | None,
        typer.Option(help="Tenant to act on (default: CRMSYNC_TENANT, else 'default')."),
    ] = None,
) -> None:
    state.tenant = tenant
    settings = get_settings()
    # Commands report what migrations did themselves; alembic's INFO lines stay quiet.
    logs.configure(settings, service=context.invoked_subcommand in SERVICES)
    try:
        if context.invoked_subcommand in ("webhooks", "scheduler", "console"):
            tracing.setup(settings, context.invoked_subcommand)
        elif context.invoked_subcommand == "worker":
            tracing.check(settings)  # each worker process starts its own when it boots
    except tracing.TracingUnavailable as error:
        fail(str(error))  # printed as typed: the message names the extra in brackets


def main() -> None:
    app()
