"""One soak from start to end: set up, first sync, workload with chaos, rest, checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.soak.chaos import Chaos, ChaosPlan
from bench.soak.checks import Checks, Outcome
from bench.soak.harness import (
    CONNECTOR_TIMEOUT_S,
    PUSH_INTERVAL_S,
    SECRET,
    SYNC_INTERVAL_S,
    Setup,
    drain,
    new_key,
    process_env,
    run_through_worker,
    scratch_folder,
    use_in_this_process,
)
from bench.soak.history import History
from bench.soak.recovery import recovery
from bench.soak.services import Processes, RedisServer, SoakError, free_port
from bench.soak.workload import Rates, Workload


@dataclass(frozen=True)
class SoakOptions:
    seed: int = 1
    seconds: float = 180.0
    records: int = 200
    workers: int = 3
    ops_per_s: float = 2.0  # per side (HubSpot, Salesforce, the directory)
    chaos: ChaosPlan = field(default_factory=ChaosPlan)
    keep: bool = False  # keep the scratch folder (logs) even when every check passes

    def __post_init__(self) -> None:
        problems = []
        if self.seconds <= 0:
            problems.append(f"seconds must be positive, got {self.seconds}")
        if self.records < 10:
            problems.append(f"records must be at least 10, got {self.records}")
        if self.workers < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class SoakResult:
    options: SoakOptions
    outcomes: list[Outcome]
    figures: dict[str, Any]
    history: History
    folder: Path | None

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)


def run_soak(options: SoakOptions, say: Any = print) -> SoakResult:
    from bench.csv_import import drop, postgres_scratch

    scratch = postgres_scratch()
    if scratch is None:
        raise SoakError("the soak needs PostgreSQL (CRMSYNC_TEST_POSTGRES_URL or 127.0.0.1:5432)")
    name, url = scratch
    passed = False
    with scratch_folder(keep=True) as folder:
        try:
            result = _run(options, url, folder, say)
            passed = result.passed
            if not passed or options.keep:
                say(f"logs and the soak's files are in {folder}")
            else:
                result.folder = None
            return result
        finally:
            if options.keep:
                say(f"the scratch database is kept: {name} (drop it when done)")
            else:
                drop(name)
            if passed and not options.keep:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)


def _run(options: SoakOptions, url: str, folder: Path, say: Any) -> SoakResult:
    from customers import db
    from customers.service import get_tenant
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.salesforce import SalesforceSandbox

    redis_server = RedisServer(folder / "redis")
    redis_server.start()
    env = process_env(database_url=url, redis_url=redis_server.url, key=new_key(), folder=folder)
    use_in_this_process(env)
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        tenant_id = get_tenant(session, "default").id
    processes = Processes(env, folder)
    hubspot = HubSpotSandbox(limits=None, webhook_retry_scale=0.001, seed=options.seed)
    salesforce = SalesforceSandbox(outbound_time_scale=0.01)
    figures: dict[str, Any] = {}
    try:
        hubspot.start()
        salesforce.start()
        setup = Setup(folder, env, engine, sessions, tenant_id, redis_server, processes, hubspot, salesforce)  # fmt: skip
        started = time.monotonic()
        _seed(setup, options)
        _connect(setup)
        port = free_port()
        processes.start_webhooks(port)
        _subscribe(setup, port)
        for _ in range(options.workers):
            processes.start_worker()
        say(f"first full sync of {options.records} businesses ...")
        run_through_worker(setup, "reconcile", setup.connections["hubspot"], "reconcile")
        run_through_worker(setup, "reconcile", setup.connections["salesforce"], "reconcile")
        run_through_worker(setup, "push_changes", setup.connections["hubspot"], "push")
        figures["setup_s"] = round(time.monotonic() - started, 1)

        processes.start_scheduler()
        history = History()
        workload = Workload(seed=options.seed, history=history, hubspot=hubspot, salesforce=salesforce,
                            sessions=sessions, tenant_id=tenant_id, rates=Rates(options.ops_per_s))  # fmt: skip
        chaos = Chaos(seed=options.seed, plan=options.chaos, seconds=options.seconds, history=history,
                      hubspot=hubspot, salesforce=salesforce, processes=processes,
                      redis_server=redis_server, workers=options.workers)  # fmt: skip
        say(f"workload and chaos for {options.seconds:g} s (seed {options.seed}) ...")
        workload.start()
        chaos.start()
        time.sleep(options.seconds)
        workload.stop()
        chaos.stop()
        recovered = recovery(sessions, history, processes, setup.connections,
                             others_alive=processes.others_alive())  # fmt: skip
        figures["operations"] = _count_ops(history)
        figures["workers_killed"] = processes.killed
        figures["redis_restarts"] = redis_server.restarts
        figures["webhooks"] = {"hubspot": dict(hubspot.faults.snapshot()["deliveries"]),
                               "salesforce": dict(salesforce.faults.snapshot()["deliveries"])}  # fmt: skip
        figures["harness_errors"] = workload.errors + chaos.errors

        say("quiesce: drain, one reconcile per connection, drain ...")
        rest = time.monotonic()
        processes.stop_scheduler()
        drain(setup, options.workers)
        for provider in ("hubspot", "salesforce"):
            run_through_worker(setup, "reconcile", setup.connections[provider], "reconcile")
        for provider in ("hubspot", "salesforce"):
            run_through_worker(setup, "push_changes", setup.connections[provider], "push")
        drain(setup, options.workers)
        figures["quiesce_s"] = round(time.monotonic() - rest, 1)

        checks = Checks(setup, history)
        outcomes = [*checks.run_all(lambda: _echo_round(setup, options.workers)), recovered]
        figures["totals"] = checks.totals
        return SoakResult(options, outcomes, figures, history, folder)
    finally:
        processes.stop_all()
        hubspot.stop()
        salesforce.stop()
        redis_server.stop()
        engine.dispose()


def _echo_round(setup: Setup, workers: int) -> None:
    """One more incremental sync and push per connection, after convergence."""
    for provider in ("hubspot", "salesforce"):
        run_through_worker(setup, "sync_changes", setup.connections[provider], "incremental")
        run_through_worker(setup, "push_changes", setup.connections[provider], "push")
    drain(setup, workers)


def _count_ops(history: History) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in history.operations:
        name = f"{op.side}.{op.kind}" + ("" if op.ok else ".refused")
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _seed(setup: Setup, options: SoakOptions) -> None:
    from customers import db, service
    from sandbox.seed import generate_companies

    businesses = list(
        generate_companies(options.records, contacts_per_company=1, seed=options.seed)
    )
    share = max(1, options.records * 3 // 5)
    setup.hubspot.seed(businesses[:share])
    setup.salesforce.seed(businesses[options.records - share :])
    with db.transaction(setup.sessions) as session:
        for company in businesses[
            options.records // 3 : options.records // 3 + options.records // 10
        ]:
            email = f"billing@{company.domain}"
            if service.find_by_email(session, setup.tenant_id, email) is None:
                service.create_customer(session, setup.tenant_id, {
                    "name": company.name, "email": email, "website": company.website,
                    "billing_street": company.street, "billing_city": company.city,
                    "billing_country": company.country_code})  # fmt: skip


def _connect(setup: Setup) -> None:
    from connectors.credentials import Credentials
    from customers.db import transaction
    from customers.sync_state import Connection
    from worker.sync import connections

    sf = setup.salesforce.credentials
    setup.connections["hubspot"] = connections.connect(
        setup.sessions, tenant_id=setup.tenant_id, provider="hubspot",
        account_id=str(setup.hubspot.portal_id), name="HubSpot (soak)",
        credentials=Credentials(access_token=setup.hubspot.access_token), base_url=setup.hubspot.url,
        options={"timeout_s": CONNECTOR_TIMEOUT_S},
    )  # fmt: skip
    setup.connections["salesforce"] = connections.connect(
        setup.sessions, tenant_id=setup.tenant_id, provider="salesforce",
        account_id=setup.salesforce.org_id, name="Salesforce (soak)",
        credentials=Credentials(access_token=setup.salesforce.access_token(), refresh_token=sf.refresh_token,
                                client_id=sf.consumer_key, client_secret=sf.consumer_secret,
                                instance_url=setup.salesforce.instance_url),
        base_url=setup.salesforce.instance_url,
        options={"verify": setup.salesforce.cert_path, "timeout_s": CONNECTOR_TIMEOUT_S},
    )  # fmt: skip
    with transaction(setup.sessions) as session:
        for connection in session.scalars(select(Connection)):
            connection.settings = {**(connection.settings or {}), "sync_interval_s": SYNC_INTERVAL_S,
                                   "push_interval_s": PUSH_INTERVAL_S}  # fmt: skip


def _subscribe(setup: Setup, port: int) -> None:
    from customers.sync_state import Connection
    from sandbox.hubspot import WebhookSubscription

    base = f"http://127.0.0.1:{port}"
    setup.hubspot.subscribe_webhooks(WebhookSubscription(target_url=f"{base}/webhooks/hubspot", client_secret=SECRET))  # fmt: skip
    with setup.sessions() as session:
        connection = session.get(Connection, setup.connections["salesforce"])
        assert connection is not None
        token = connection.webhook_token
    for object_name in ("Account", "Contact"):
        setup.salesforce.register_outbound(f"{base}/webhooks/salesforce/{token}", object_name, ["Name"] if object_name == "Account" else ["LastName"])  # fmt: skip
