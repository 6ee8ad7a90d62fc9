"""Conflicts: the field, both values, the base they changed from, the rule and its
decision (already applied by the sync; this page only reads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers.errors import NotFound
from customers.sync_state import SyncConflict
from worker.console.web import in_tenant, int_param, page, path_id, render
from worker.history import conflict_dict, conflicts_of

PAGE_SIZE = 200


@page
async def index(request: Request) -> Response:
    params = request.query_params
    connection = int_param(params.get("connection"), "connection")
    customer = int_param(params.get("customer"), "customer")
    field = (params.get("field") or "").strip()[:120] or None

    def load(session: Session, tenant_id: int) -> list[dict[str, Any]]:
        query = conflicts_of(tenant_id)
        if connection is not None:
            query = query.where(SyncConflict.connection_id == connection)
        if customer is not None:
            query = query.where(SyncConflict.local_id == customer)
        if field:
            query = query.where(SyncConflict.field == field)
        query = query.order_by(SyncConflict.created_at.desc(), SyncConflict.id.desc())
        return [conflict_dict(row) for row in session.scalars(query.limit(PAGE_SIZE))]

    rows = await in_tenant(request, load)
    chosen = {"connection": connection or "", "customer": customer or "", "field": field or ""}
    return render(request, "conflicts.html", conflicts=rows, chosen=chosen)


@page
async def detail(request: Request) -> Response:
    conflict_id = path_id(request)

    def load(session: Session, tenant_id: int) -> dict[str, Any]:
        row = session.scalar(conflicts_of(tenant_id).where(SyncConflict.id == conflict_id))
        if row is None:
            raise NotFound("conflict", conflict_id)
        return conflict_dict(row)

    return render(request, "conflict.html", conflict=await in_tenant(request, load))


routes = [Route("/conflicts", index), Route("/conflicts/{id:int}", detail)]
