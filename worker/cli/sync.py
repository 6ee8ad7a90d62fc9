"""``crmsync connect``, ``sync`` and ``worker`` (``connections`` is in its own module)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from connectors.credentials import Credentials
from connectors.errors import ConnectorError
from connectors.fields import FieldProblem, FieldReport
from customers.errors import NotFound
from customers.sync_state import Connection, ConnectionStatus
from worker.cli.common import JsonFlag, console, fail, handles_errors, print_json, unit_of_work
from worker.cli.maps import check_map, print_fields
from worker.database import sessions
from worker.jobs.queues import LEGACY_QUEUE, QUEUES, consumed, parse_queues
from worker.settings import Settings, get_settings

log = logging.getLogger(__name__)

connect_app = typer.Typer(
    help="Connect a CRM account (runs its one-time setup).", no_args_is_help=True
)

Name = Annotated[str, typer.Option(help="A name for this connection.")]
NoAutoCreate = Annotated[
    bool,
    typer.Option(
        "--no-auto-create", help="Hold new CRM accounts for review instead of creating customers."
    ),
]
Mapping = Annotated[
    str | None,
    typer.Option(help="Your own field map file (YAML) to use instead of the shipped one."),
]


SECRET_OPTIONS = ("access_token", "refresh_token", "client_secret")
# Connecting the account of one of these again gives it new credentials and makes it active.
RECONNECTABLE = (ConnectionStatus.AUTH_FAILED, ConnectionStatus.REMOVED)


def _secrets_from_environment(context: typer.Context) -> None:
    """Secrets given on the command line stay in shell history and in the process list:
    refused (exit 2) before anything else, naming the variable to set instead."""
    for name in SECRET_OPTIONS:
        source = context.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":  # typer bundles its own click
            option = next(p for p in context.command.params if p.name == name)
            variable = option.envvar if isinstance(option.envvar, str) else "its variable"
            fail(
                f"--{name.replace('_', '-')} is not taken on the command line (it would stay "
                f"in shell history): set {variable} instead",
                code=2,
            )


def _connect(
    provider: str,
    account_id: str,
    name: str,
    credentials: Credentials,
    base_url: str | None,
    options: dict[str, Any],
    auto_create: bool,
    mapping: str | None,
    as_json: bool = False,
) -> None:
    from worker.sync import connections

    if mapping is not None:
        check_map(provider, mapping, nothing="nothing was saved")
        # Workers may run in another folder: the map is stored by its absolute path.
        mapping = str(Path(mapping).resolve())
    with unit_of_work() as (session, tenant_id):
        existing = session.scalar(
            select(Connection).where(
                Connection.provider == provider, Connection.account_id == account_id
            )
        )
        if existing is not None and existing.tenant_id != tenant_id:
            # One CRM account feeds one directory; another tenant's connection is not named.
            fail(f"{provider} account {account_id} is connected to another tenant's directory")
        if existing is not None and existing.status not in RECONNECTABLE:
            fail(f"{provider} account {account_id} is already connected (connection {existing.id})")
        reconnecting = existing.id if existing is not None else None
        # A connection connected again keeps its name (and map, unless one is given).
        name = existing.name if existing is not None else name
    reports: list[FieldReport] = []
    if reconnecting is not None:
        # Its links and history stay: records already linked are not made again.
        try:
            connections.reconnect(
                sessions(),
                reconnecting,
                credentials=credentials,
                base_url=base_url,
                options=options,
                mapping=mapping,
                on_fields=reports.append,
            )
        except ConnectorError as error:
            fail(f"{provider} setup failed, nothing was changed: {error}")
        _connected(reconnecting, provider, account_id, name, as_json, "reconnected", reports)
        return
    try:
        connection_id = connections.connect(
            sessions(),
            tenant_id=tenant_id,
            provider=provider,
            account_id=account_id,
            name=name,
            credentials=credentials,
            base_url=base_url,
            options=options,
            auto_create=auto_create,
            mapping=mapping,
            on_fields=reports.append,
        )
    except ConnectorError as error:
        fail(f"{provider} setup failed, nothing was saved: {error}")
    _connected(connection_id, provider, account_id, name, as_json, "connected", reports)


def _problem_json(problem: FieldProblem) -> dict[str, Any]:
    return {
        "object": problem.crm_object,
        "field": problem.name,
        "create_as": problem.needed,
        "found_type": problem.found,
    }


def _connected(
    connection_id: int,
    provider: str,
    account_id: str,
    name: str,
    as_json: bool,
    done: str,
    reports: list[FieldReport],
) -> None:
    created = [name for report in reports for name in report.created]
    problems = [problem for report in reports for problem in report.problems]
    if as_json:
        print_json(
            {
                "id": connection_id,
                "provider": provider,
                "account_id": account_id,
                "name": name,
                "status": "active",
                "done": done,
                "fields_created": created,
                "fields_missing": [_problem_json(problem) for problem in problems],
            }
        )
        return
    console.print(f"{done} {provider} account {account_id} as connection {connection_id} ({name})")
    print_fields(provider, reports)
    console.print(f"next: crmsync sync {connection_id} --full", style="dim")


@connect_app.command("hubspot")
@handles_errors
def connect_hubspot(
    context: typer.Context,
    portal_id: Annotated[str, typer.Option(help="The HubSpot account (portal) id.")],
    name: Name = "HubSpot",
    access_token: Annotated[
        str | None,
        typer.Option(
            envvar="CRMSYNC_HUBSPOT_ACCESS_TOKEN",
            help="Private app token (or OAuth access token).",
            show_envvar=True,
        ),
    ] = None,
    refresh_token: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_HUBSPOT_REFRESH_TOKEN", show_envvar=True)
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_HUBSPOT_CLIENT_ID", show_envvar=True)
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_HUBSPOT_OAUTH_SECRET", show_envvar=True)
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="API base URL (default https://api.hubapi.com).")
    ] = None,
    no_auto_create: NoAutoCreate = False,
    mapping: Mapping = None,
    as_json: JsonFlag = False,
) -> None:
    """Connect a HubSpot account with a private app token or OAuth tokens. Secrets are read
    from the environment variables shown only, so they stay out of shell history."""
    _secrets_from_environment(context)
    if not access_token and not refresh_token:
        fail(
            "set CRMSYNC_HUBSPOT_ACCESS_TOKEN, or CRMSYNC_HUBSPOT_REFRESH_TOKEN with "
            "CRMSYNC_HUBSPOT_CLIENT_ID and CRMSYNC_HUBSPOT_OAUTH_SECRET",
            code=2,
        )
    credentials = Credentials(
        access_token=access_token or "",
        refresh_token=refresh_token,
        client_id=client_id,
        client_secret=client_secret,
        token_url=f"{base_url}/oauth/v1/token" if base_url else None,
    )
    _connect(
        "hubspot", portal_id, name, credentials, base_url, {}, not no_auto_create, mapping, as_json
    )


@connect_app.command("salesforce")
@handles_errors
def connect_salesforce(
    context: typer.Context,
    org_id: Annotated[str, typer.Option(help="The Salesforce organization id (00D...).")],
    instance_url: Annotated[str, typer.Option(help="e.g. https://yourorg.my.salesforce.com")],
    name: Name = "Salesforce",
    access_token: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_SALESFORCE_ACCESS_TOKEN", show_envvar=True)
    ] = None,
    refresh_token: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_SALESFORCE_REFRESH_TOKEN", show_envvar=True)
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_SALESFORCE_CLIENT_ID", show_envvar=True)
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option(envvar="CRMSYNC_SALESFORCE_CLIENT_SECRET", show_envvar=True)
    ] = None,
    token_url: Annotated[
        str | None, typer.Option(help="OAuth token URL (default: the instance's).")
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option(help="CA bundle that signs the org's certificate.")
    ] = None,
    no_auto_create: NoAutoCreate = False,
    mapping: Mapping = None,
    as_json: JsonFlag = False,
) -> None:
    """Connect a Salesforce org with OAuth tokens (a refresh token keeps it connected).
    Secrets are read from the environment variables shown only."""
    _secrets_from_environment(context)
    if not access_token and not refresh_token:
        fail(
            "set CRMSYNC_SALESFORCE_REFRESH_TOKEN with CRMSYNC_SALESFORCE_CLIENT_ID and "
            "CRMSYNC_SALESFORCE_CLIENT_SECRET (or CRMSYNC_SALESFORCE_ACCESS_TOKEN)",
            code=2,
        )
    credentials = Credentials(
        access_token=access_token or "",
        refresh_token=refresh_token,
        client_id=client_id,
        client_secret=client_secret,
        token_url=token_url,
        instance_url=instance_url,
    )
    options: dict[str, Any] = {"verify": ca_bundle} if ca_bundle else {}
    _connect(
        "salesforce",
        org_id,
        name,
        credentials,
        instance_url,
        options,
        not no_auto_create,
        mapping,
        as_json,
    )


def summary_table(title: str, counts: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in sorted(counts):
        if counts[key]:
            table.add_row(key.replace("_", " "), str(counts[key]))
    return table


@handles_errors
def sync(
    connection_id: int,
    full: Annotated[
        bool, typer.Option("--full", help="A full two-way pass (finds deletes and drift).")
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Only push local changes (after reading the CRM's).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sync one connection now, with progress and a summary."""
    from worker.embedded import jobs_run_here
    from worker.sync.passes import Sync

    with unit_of_work() as (session, tenant_id):
        connection = session.get(Connection, connection_id)
        if connection is None or connection.tenant_id != tenant_id:
            # Another tenant's connection is answered like one that does not exist.
            fail(str(NotFound("connection", connection_id)))

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def report(object_type: str, read: int) -> None:
            progress.update(task, description=f"{object_type}: {read:,} records read")

        try:
            with jobs_run_here():
                runner = Sync(connection_id, sessions=sessions(), progress=report)
                run = (
                    runner.push() if push else runner.reconcile() if full else runner.incremental()
                )
        except NotFound as error:
            fail(str(error))
        except ConnectorError as error:
            fail(f"sync failed: {error}")
    counts = {**run.counts}
    if as_json:
        print_json({"run": run.id, "kind": run.kind, "outcome": run.outcome, "counts": counts})
        return
    console.print(summary_table(f"sync run {run.id} ({run.kind}): {run.outcome}", counts))


def _queues_option(value: list[str] | None) -> list[str] | None:
    try:
        return list(parse_queues(value)) if value else None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="Threads per process (default: CRMSYNC_WORKER_THREADS)."),
    ] = None,
    queues: Annotated[
        list[str] | None,
        typer.Option(
            "--queues",
            metavar="QUEUE[,QUEUE...]",
            callback=_queues_option,
            help=f"Queues to consume, comma-separated ({', '.join(QUEUES)}); default: all. "
            f"A bulk worker also drains {LEGACY_QUEUE!r}, the queue of older releases.",
        ),
    ] = None,
) -> None:
    """Run job workers (needs CRMSYNC_BROKER_URL or CRMSYNC_REDIS_SENTINELS; without a broker, jobs run in the command that queued them)."""
    settings = get_settings()
    if not settings.has_broker:
        fail(
            "crmsync worker needs CRMSYNC_BROKER_URL (a Redis URL) or CRMSYNC_REDIS_SENTINELS; "
            "without a broker, jobs run inside the command that queued them"
        )
    chosen = parse_queues(queues)
    os.execve(
        sys.executable,
        dramatiq_arguments(settings, processes, threads, chosen),
        {**os.environ, **dramatiq_environment(settings, threads)},
    )


def dramatiq_arguments(
    settings: Settings, processes: int, threads: int | None, chosen: tuple[str, ...]
) -> list[str]:
    """The ``dramatiq`` command line a ``crmsync worker`` runs."""
    from worker.embedded import ACTOR_MODULES

    log.info("starting %d worker process(es) on queues %s", processes, ", ".join(chosen))
    return [
        sys.executable,
        "-m",
        "worker.dramatiq_main",
        "worker.dramatiq_main:boot",
        *ACTOR_MODULES,
        "--processes",
        str(processes),
        "--threads",
        str(threads or settings.worker_threads),
        "--queues",
        *consumed(chosen),
        # Dramatiq's default waits 10 minutes for running jobs: past a container's grace
        # period, so it would be killed before it put its prefetched messages back.
        "--worker-shutdown-timeout",
        str(max(int(settings.worker_shutdown_timeout_s * 1000), 1)),
        *dramatiq_logging_and_metrics(settings),
    ]


def dramatiq_logging_and_metrics(settings: Settings) -> list[str]:
    """Each process sets up crmsync's logging (not Dramatiq's); the metrics listener is a
    process of its own (``worker.dramatiq_main``)."""
    fork = ["--fork", "worker.dramatiq_main:serve_metrics"] if settings.worker_metrics_port else []
    return ["--skip-logging", *fork]


def dramatiq_environment(settings: Settings, threads: int | None) -> dict[str, str]:
    """Dramatiq's worker reads these from the environment only.

    Its default idle backoff (up to 1 s) delayed most webhook jobs by hundreds of ms, and
    prefetching twice its threads let a process whose threads all waited on a connection's
    lock hold jobs that an idle process could run."""
    return {
        "dramatiq_worker_timeout": str(max(int(settings.worker_idle_poll_s * 1000), 1)),
        "dramatiq_queue_prefetch": str(threads or settings.worker_threads),
    }
