"""Runs: the tenant's sync runs, newest first, and one run with its counts, error and
cursors."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers.errors import InvalidInput, NotFound
from customers.sync_state import SyncRun
from worker.console.web import in_tenant, int_param, page, path_id, render
from worker.history import run_dict, runs_of

KINDS = ("records", "incremental", "reconcile", "push")
PAGE_SIZE = 100


@page
async def index(request: Request) -> Response:
    params = request.query_params
    connection = int_param(params.get("connection"), "connection")
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise InvalidInput.single("kind", f"{kind[:40]!r}: use {', '.join(KINDS)}")
    outcome = (params.get("outcome") or "").strip()[:16] or None

    def load(session: Session, tenant_id: int) -> list[dict[str, object]]:
        query = runs_of(tenant_id)
        if connection is not None:
            query = query.where(SyncRun.connection_id == connection)
        if kind:
            query = query.where(SyncRun.kind == kind)
        if outcome:
            query = query.where(SyncRun.outcome == outcome)
        query = query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(PAGE_SIZE)
        return [run_dict(run) for run in session.scalars(query)]

    rows = await in_tenant(request, load)
    return render(
        request,
        "runs.html",
        runs=rows,
        kinds=KINDS,
        chosen={"connection": connection or "", "kind": kind or "", "outcome": outcome or ""},
    )


@page
async def detail(request: Request) -> Response:
    run_id = path_id(request)

    def load(session: Session, tenant_id: int) -> dict[str, object]:
        run = session.scalar(runs_of(tenant_id).where(SyncRun.id == run_id))
        if run is None:
            raise NotFound("run", run_id)
        return run_dict(run)

    return render(request, "run.html", run=await in_tenant(request, load))


routes = [Route("/runs", index), Route("/runs/{id:int}", detail)]
