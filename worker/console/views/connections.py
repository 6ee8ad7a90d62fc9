"""Connections: each one's state, last runs, cursor lag, API budget left, open failures and
outbox depth, the activity chart; pause, resume, sync now and reconcile now."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers.sync_state import SyncRun
from worker import connection_status
from worker.console import chart
from worker.console.web import action, console_of, done, in_tenant, page, path_id, render
from worker.jobs import enqueue
from worker.sync import lifecycle

RECENT_RUNS = 5


def _overview(session: Session, tenant_id: int, client: Any) -> dict[str, Any]:
    rows = connection_status.tenant_status(session, tenant_id, client)
    for row in rows:
        row["recent_runs"] = list(
            session.scalars(
                select(SyncRun)
                .where(SyncRun.connection_id == row["id"])
                .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(RECENT_RUNS)
            )
        )
    return {"connections": rows, "chart": chart.svg(chart.activity(session, tenant_id))}


@page
async def index(request: Request) -> Response:
    client = console_of(request).redis
    data = await in_tenant(
        request, lambda session, tenant_id: _overview(session, tenant_id, client)
    )
    queue = connection_status.queue(console_of(request).settings)
    return render(request, "connections.html", queue=queue, **data)


@page
async def chart_svg(request: Request) -> Response:
    svg = await in_tenant(request, lambda s, t: chart.svg(chart.activity(s, t)))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@action()
async def pause(request: Request, form: FormData) -> Response:
    connection_id = path_id(request)
    await in_tenant(request, lambda s, t: lifecycle.pause(s, t, connection_id))
    return done(request, f"connection {connection_id} paused", "/connections")


@action()
async def resume(request: Request, form: FormData) -> Response:
    connection_id = path_id(request)
    await in_tenant(request, lambda s, t: lifecycle.resume(s, t, connection_id))
    return done(request, f"connection {connection_id} resumed", "/connections")


def _check_active(session: Session, tenant_id: int, connection_id: int) -> None:
    lifecycle.ensure_active(lifecycle.find(session, tenant_id, connection_id))


async def _start(request: Request, job: str, what: str) -> Response:
    connection_id = path_id(request)
    await in_tenant(request, lambda s, t: _check_active(s, t, connection_id))
    console_of(request).jobs.send(job, connection_id)
    return done(request, f"connection {connection_id}: {what} started; see Runs", "/connections")


@action()
async def sync_now(request: Request, form: FormData) -> Response:
    return await _start(request, enqueue.SYNC_CHANGES, "sync")


@action()
async def reconcile_now(request: Request, form: FormData) -> Response:
    return await _start(request, enqueue.RECONCILE, "full reconcile")


routes = [
    Route("/connections", index),
    Route("/chart.svg", chart_svg),
    Route("/connections/{id:int}/pause", pause, methods=["POST"]),
    Route("/connections/{id:int}/resume", resume, methods=["POST"]),
    Route("/connections/{id:int}/sync", sync_now, methods=["POST"]),
    Route("/connections/{id:int}/reconcile", reconcile_now, methods=["POST"]),
]
