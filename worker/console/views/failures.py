"""Failures: filter by connection, direction, error kind and age; one failure with its
payload (credentials masked); replay and dismiss, one or many."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers.errors import InvalidInput
from worker import failure_triage as triage
from worker.console.web import (
    action,
    console_of,
    done,
    ids_param,
    in_tenant,
    int_param,
    local_path,
    page,
    path_id,
    render,
)
from worker.failures import UNRESOLVED

DIRECTIONS = ("inbound", "outbound", "categorize", "maintenance", "internal")
PAGE_SIZE = 200


def _filter(params: Any) -> triage.FailureFilter:
    direction = params.get("direction") or None
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInput.single("direction", f"{direction[:40]!r}: use {', '.join(DIRECTIONS)}")
    since = (params.get("since") or "").strip() or None
    if since is not None:
        try:
            triage.parse_since(since)
        except InvalidInput:
            raise InvalidInput.single(
                "since", f"{since[:40]!r} is not an age (30m, 12h, 7d) or a date"
            ) from None
    status = params.get("status") or None
    try:
        statuses = triage.statuses(status, UNRESOLVED)
    except InvalidInput:
        raise InvalidInput.single(
            "status",
            f"{(status or '')[:40]!r}: use open, replayed, resolved, dismissed, unresolved or all",
        ) from None
    return triage.FailureFilter(
        statuses=statuses,
        connection=int_param(params.get("connection"), "connection"),
        direction=direction,
        since=since,
        error=(params.get("error") or "").strip()[:120] or None,
    )


@page
async def index(request: Request) -> Response:
    chosen = _filter(request.query_params)

    def load(session: Session, tenant_id: int) -> list[dict[str, Any]]:
        query = triage.filtered(tenant_id, chosen).limit(PAGE_SIZE)
        return [triage.failure_dict(row) for row in session.scalars(query)]

    rows = await in_tenant(request, load)
    params = request.query_params
    return render(
        request,
        "failures.html",
        failures=rows,
        directions=DIRECTIONS,
        chosen={
            key: params.get(key, "")
            for key in ("connection", "direction", "error", "since", "status")
        },
        here=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
    )


@page
async def detail(request: Request) -> Response:
    failure_id = path_id(request)
    data = await in_tenant(
        request, lambda s, t: triage.failure_dict(triage.one(s, t, failure_id), full=True)
    )
    return render(request, "failure.html", failure=data, here=f"/failures/{failure_id}")


@action()
async def replay(request: Request, form: FormData) -> Response:
    ids = ids_param([str(value) for value in form.getlist("id")], "id")
    jobs = console_of(request).jobs

    def mark(session: Session, tenant_id: int) -> triage.Replay:
        rows = [triage.one(session, tenant_id, failure_id) for failure_id in ids]
        return triage.replay(session, rows, run_here=jobs.embedded)

    result = await in_tenant(request, mark)
    finished = await run_in_threadpool(jobs.run_replays, result.to_run)  # may wait a while
    parts = []
    if result.replayed:
        names = ", ".join(str(item["id"]) for item in result.replayed)
        parts.append(f"replayed {names}" + ("" if finished else " (still running)"))
    parts += [f"skipped {item['id']}: {item['reason']}" for item in result.skipped]
    return done(request, "; ".join(parts), local_path(form.get("back"), "/failures"))


@action()
async def dismiss(request: Request, form: FormData) -> Response:
    ids = ids_param([str(value) for value in form.getlist("id")], "id")
    reason = str(form.get("reason") or "")
    if not reason.strip():
        raise InvalidInput.single("reason", "say why the failure is dismissed")

    def close(session: Session, tenant_id: int) -> None:
        for failure_id in ids:
            triage.dismiss(session, tenant_id, failure_id, reason)

    await in_tenant(request, close)
    names = ", ".join(str(failure_id) for failure_id in ids)
    return done(request, f"dismissed {names}", local_path(form.get("back"), "/failures"))


routes = [
    Route("/failures", index),
    Route("/failures/{id:int}", detail),
    Route("/failures/replay", replay, methods=["POST"]),
    Route("/failures/dismiss", dismiss, methods=["POST"]),
]
