"""An incremental round over many connections: each business's own HubSpot portal, a few
changes in each, and one ``sync_changes`` per connection, as the scheduler sends them.

A thousand sandboxes on a thousand servers would cost more than the sync they measure, so
the portals share one server: ``/portal/<n>/...`` is portal ``n``, and each connection's
base URL carries its prefix (the SDK joins paths to its host as given). Each connection
belongs to a tenant of its own, as each business would. The round is timed from its first
enqueue to the last ``sync_runs`` row finishing; every run must end ``ok`` and read what
changed in its portal.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bench.stack import BenchError, Stack
from connectors.credentials import Credentials
from customers import db
from customers.service import get_tenant
from customers.sync_state import SyncRun
from sandbox.hubspot import HubSpotSandbox
from sandbox.runner import ServerThread
from sandbox.seed import generate_companies

FIRST_PORTAL_ID = 70_000_000
PREFIX = "/portal/"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class PortalFarm:
    """Many seeded HubSpot sandbox portals behind one ASGI server, limits off."""

    def __init__(self, count: int, companies_each: int, seed: int = 7) -> None:
        businesses = list(
            generate_companies(count * companies_each, contacts_per_company=1, seed=seed)
        )
        self.portals: list[HubSpotSandbox] = []
        for number in range(count):
            portal = HubSpotSandbox(limits=None, portal_id=FIRST_PORTAL_ID + number, seed=seed)
            portal.seed(businesses[number * companies_each : (number + 1) * companies_each])
            self.portals.append(portal)
        self._server: ServerThread | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        number, _, rest = path.removeprefix(PREFIX).partition("/")
        portal = (
            self._portal(number) if scope["type"] == "http" and path.startswith(PREFIX) else None
        )
        if portal is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        inner = dict(scope, path="/" + rest, raw_path=("/" + rest).encode(), root_path="")
        await portal.app(inner, receive, send)

    def _portal(self, number: str) -> HubSpotSandbox | None:
        if not number.isdigit() or int(number) >= len(self.portals):
            return None
        return self.portals[int(number)]

    def __enter__(self) -> PortalFarm:
        self._server = ServerThread(self)
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def url(self, number: int) -> str:
        if self._server is None:
            raise RuntimeError("the portal farm is not started")
        return f"{self._server.url}{PREFIX}{number}"

    def change(self, per_portal: int) -> int:
        """Edit ``per_portal`` records in every portal (companies first, then contacts), as
        a person in the CRM would; how many were edited in all."""
        edited = 0
        for portal in self.portals:
            chosen = [("companies", i) for i in portal.ids("companies")]
            chosen += [("contacts", i) for i in portal.ids("contacts")]
            for number, (object_type, record_id) in enumerate(chosen[:per_portal]):
                prop = "description" if object_type == "companies" else "jobtitle"
                portal.update(object_type, record_id, {prop: f"round change {number}"})
                edited += 1
        return edited


@dataclass
class Round:
    connections: int
    changes: int  # records edited in all portals
    seconds: float = 0.0
    first_sync_s: float = 0.0
    connect_s: float = 0.0
    records_read: int = 0
    api_calls: int = 0
    worker_cpu_s: dict[int, float] = field(default_factory=dict)

    @property
    def connections_per_s(self) -> float | None:
        return self.connections / self.seconds if self.seconds else None


def connect_all(stack: Stack, farm: PortalFarm) -> list[int]:
    """One tenant and one HubSpot connection per portal, made as ``crmsync connect`` makes
    them (the account set up, credentials encrypted)."""
    from worker.sync import connections

    ids = []
    for number, portal in enumerate(farm.portals):
        with db.transaction(stack.sessions) as session:
            tenant_id = get_tenant(session, f"business-{number:04d}").id
        ids.append(
            connections.connect(
                stack.sessions, tenant_id=tenant_id, provider="hubspot",
                name=f"HubSpot portal {number}", account_id=str(portal.portal_id),
                credentials=Credentials(access_token=portal.access_token), base_url=farm.url(number),
            )
        )  # fmt: skip
    return ids


def _finished_since(stack: Stack, after: int, connection_ids: list[int]) -> list[SyncRun]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(SyncRun).where(
                    SyncRun.id > after,
                    SyncRun.connection_id.in_(connection_ids),
                    SyncRun.kind != "push",  # a sync may also queue a push of its own
                    SyncRun.finished_at.is_not(None),
                    SyncRun.outcome != "continued",  # its job queued the rest: wait for that
                )
            )
        )


def run_all(
    stack: Stack, connection_ids: list[int], *, timeout_s: float
) -> tuple[float, list[SyncRun]]:
    """Send ``sync_changes`` for every connection and wait until each has a finished run;
    (seconds from the first send to the last finish, the runs)."""
    with stack.sessions() as session:
        after = session.scalar(select(func.max(SyncRun.id))) or 0
    started = time.monotonic()
    for connection_id in connection_ids:
        stack.enqueue("sync_changes", connection_id)
    while True:
        runs = _finished_since(stack, after, connection_ids)
        if len({run.connection_id for run in runs}) >= len(connection_ids):
            break
        if time.monotonic() - started > timeout_s:
            raise BenchError(
                f"{len(connection_ids) - len(runs)} of {len(connection_ids)} sync_changes "
                f"runs did not finish in {timeout_s:.0f} s"
            )
        time.sleep(0.25)
    last = max(run.finished_at.timestamp() for run in runs if run.finished_at)
    seconds = time.monotonic() - started - max(0.0, time.time() - last)
    failed = [run for run in runs if run.outcome != "ok"]
    if failed:
        run = failed[0]
        raise BenchError(
            f"{len(failed)} of {len(runs)} runs did not end ok; connection "
            f"{run.connection_id}: {run.outcome}: {run.error}"
        )
    return seconds, runs


def measure(stack: Stack, farm: PortalFarm, changes_each: int) -> Round:
    """Connect every portal, sync each fully once, edit ``changes_each`` records in each,
    then time one incremental round over all of them."""
    started = time.monotonic()
    connection_ids = connect_all(stack, farm)
    result = Round(connections=len(connection_ids), changes=0)
    result.connect_s = time.monotonic() - started
    stack.start_workers()
    result.first_sync_s, _ = run_all(stack, connection_ids, timeout_s=1800)
    stack.drain(1800)
    result.changes = farm.change(changes_each)
    cpu_before = stack.cpu_s()
    result.seconds, runs = run_all(stack, connection_ids, timeout_s=1800)
    result.worker_cpu_s = {
        pid: round(cpu - cpu_before.get(pid, 0.0), 2) for pid, cpu in stack.cpu_s().items()
    }
    for run in runs:
        counts = dict(run.counts)
        result.records_read += int(counts.get("read", 0)) + int(counts.get("contacts_read", 0))
        result.api_calls += int(counts.get("api_calls", 0))
    if result.records_read < result.changes:
        raise BenchError(
            f"the round read {result.records_read:,} records but {result.changes:,} were changed"
        )
    return result
