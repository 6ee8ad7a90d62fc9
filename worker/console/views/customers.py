"""Customer: its fields, the CRM records linked to it and the names they know it by, and
its sync history: the runs that synced it, its conflicts, and the failures that named it.

Runs record no customer ids; a run "synced it" when it was running at the moment a link of
the customer was last synced. Failures name it by its id (categorization, pushes) or by
a linked CRM record's id (reads).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers import service
from customers.aliases import aliases_of
from customers.plain import customer_dict
from customers.search import search_customers
from customers.sync_state import Connection, ExternalLink, SyncConflict, SyncFailure, SyncRun
from worker import failure_triage as triage
from worker.console.web import in_tenant, page, path_id, render
from worker.history import conflict_dict, run_dict
from worker.sync.target import PARENT_TYPE

PAGE_SIZE = 50
HISTORY = 50
# What a failure calls a customer: itself (categorization) or its CRM object (pushes).
CUSTOMER_TYPES = ("customer", *sorted(set(PARENT_TYPE.values())))


@page
async def index(request: Request) -> Response:
    query = (request.query_params.get("q") or "").strip()[:200]

    def load(session: Session, tenant_id: int) -> tuple[list[Any], int]:
        if query:
            found = search_customers(session, tenant_id, query, per_page=PAGE_SIZE)
            return [match.customer for match in found.matches], found.total
        rows, total = service.list_customers(session, tenant_id, limit=PAGE_SIZE)
        return list(rows), total

    rows, total = await in_tenant(request, load)
    return render(request, "customers.html", customers=rows, total=total, q=query)


def _history(session: Session, tenant_id: int, customer_id: int) -> dict[str, Any]:
    customer = service.get_customer(session, tenant_id, customer_id)
    fields = customer_dict(customer, with_contacts=True)
    links = session.execute(
        select(ExternalLink, Connection)
        .join(Connection, Connection.id == ExternalLink.connection_id)
        .where(
            Connection.tenant_id == tenant_id,
            ExternalLink.local_type == "customer",
            ExternalLink.local_id == customer_id,
        )
        .order_by(ExternalLink.id)
    ).all()
    aliases = [(alias.system, alias.reference) for alias in aliases_of(session, customer_id)]
    synced_at = [
        (link.connection_id, link.last_synced_at) for link, _ in links if link.last_synced_at
    ]
    runs: list[dict[str, Any]] = []
    if synced_at:
        windows = [
            and_(
                SyncRun.connection_id == connection_id,
                SyncRun.started_at <= moment,
                or_(SyncRun.finished_at.is_(None), SyncRun.finished_at >= moment),
            )
            for connection_id, moment in synced_at
        ]
        runs = [
            run_dict(run)
            for run in session.scalars(
                select(SyncRun).where(or_(*windows)).order_by(SyncRun.id.desc()).limit(HISTORY)
            )
        ]
    conflicts = [
        conflict_dict(row)
        for row in session.scalars(
            select(SyncConflict)
            .join(Connection, Connection.id == SyncConflict.connection_id)
            .where(
                Connection.tenant_id == tenant_id,
                SyncConflict.local_id == customer_id,
                SyncConflict.object_type.in_(sorted(set(PARENT_TYPE.values()))),
            )
            .order_by(SyncConflict.id.desc())
            .limit(HISTORY)
        )
    ]
    by_record = [
        and_(
            SyncFailure.connection_id == link.connection_id,
            SyncFailure.object_type == link.object_type,
            SyncFailure.external_id == link.external_id,
        )
        for link, _ in links
    ]
    failures = [
        triage.failure_dict(row)
        for row in session.scalars(
            triage.scoped(tenant_id)
            .where(
                or_(
                    and_(
                        SyncFailure.local_id == customer_id, SyncFailure.object_type == "customer"
                    ),
                    or_(*by_record) if by_record else false(),
                )
            )
            .order_by(SyncFailure.last_failed_at.desc())
            .limit(HISTORY)
        )
    ]
    return {
        "customer": fields,
        "links": [
            {
                "connection": connection.name,
                "connection_id": connection.id,
                "provider": connection.provider,
                "object_type": link.object_type,
                "external_id": link.external_id,
                "last_synced_at": link.last_synced_at,
            }
            for link, connection in links
        ],
        "aliases": aliases,
        "runs": runs,
        "conflicts": conflicts,
        "failures": failures,
    }


@page
async def detail(request: Request) -> Response:
    customer_id = path_id(request)
    data = await in_tenant(request, lambda s, t: _history(s, t, customer_id))
    return render(request, "customer.html", **data)


routes = [Route("/customers", index), Route("/customers/{id:int}", detail)]
