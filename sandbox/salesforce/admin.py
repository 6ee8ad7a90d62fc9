"""Admin endpoints under ``/__sandbox/salesforce/``: the sandbox's own controls over HTTP.

They do what :class:`~sandbox.salesforce.sandbox.SalesforceSandbox` methods do, for
processes that only have a URL (the demo, a worker under test in another process):

    GET    credentials                       consumer key/secret, refresh token, urls
    POST   sessions                          issue an access token
    POST   sessions/expire                   expire every access token
    POST   refresh-token/revoke              make the refresh token invalid_grant
    GET    records/{Object}[?include_deleted=false]
    GET    records/{Object}/{id}
    POST   records/{Object}                  create (fields as JSON)
    PATCH  records/{Object}/{id}[?system=true]
    DELETE records/{Object}/{id}
    POST   records/{Object}/{id}/undelete
    POST   records/{Object}/merge            {"master_id", "loser_ids", "master_fields"?}
    POST   seed                              {"count", "contacts_per_company"?, "seed"?}
    GET    faults / POST faults / DELETE faults
    GET    counters / POST counters/reset
    GET    api-usage / POST api-usage        {"used"}
    GET    outbound / POST outbound          {"endpoint_url", "object", "fields"}
    DELETE outbound/{id}
    POST   outbound/flush {"timeout"} / outbound/pause / outbound/resume

No authentication: the sandbox is a local test double, never exposed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import FaultRule
from sandbox.seed import generate_companies

from .errors import ApiError

if TYPE_CHECKING:
    from .sandbox import SalesforceSandbox


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw else {}


def _admin(
    handler: Callable[[SalesforceSandbox, Request, Any], Any],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sandbox: SalesforceSandbox = request.app.state.sandbox
        try:
            body = await _body(request)
            result = await run_in_threadpool(handler, sandbox, request, body)
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    return endpoint


def _object(request: Request) -> str:
    name = request.path_params["object"]
    if name not in ("Account", "Contact"):
        raise ValueError(f"unknown object {name!r}")
    return name


def _credentials(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    credentials = sandbox.credentials
    return {
        "consumer_key": credentials.consumer_key,
        "consumer_secret": credentials.consumer_secret,
        "refresh_token": credentials.refresh_token,
        "username": credentials.username,
        "user_id": credentials.user_id,
        "org_id": sandbox.org_id,
        "instance_url": sandbox.instance_url,
        "token_url": sandbox.token_url,
    }


def _issue_session(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    return {"access_token": sandbox.access_token()}


def _expire_sessions(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    sandbox.expire_sessions()
    return {"expired": True}


def _revoke_refresh_token(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    sandbox.revoke_refresh_token()
    return {"revoked": True}


def _list_records(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    include_deleted = request.query_params.get("include_deleted", "true").lower() != "false"
    return sandbox.records(_object(request), include_deleted=include_deleted)


def _get_record(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    record = sandbox.record(_object(request), request.path_params["id"])
    return record if record is not None else JSONResponse({"error": "not found"}, status_code=404)


def _create(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    return {"id": sandbox.create(_object(request), body)}


def _update(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    system = request.query_params.get("system", "false").lower() == "true"
    sandbox.update(_object(request), request.path_params["id"], body, system=system)
    return Response(status_code=204)


def _delete(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    sandbox.delete(_object(request), request.path_params["id"])
    return Response(status_code=204)


def _undelete(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    sandbox.undelete(_object(request), request.path_params["id"])
    return Response(status_code=204)


def _merge(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    sandbox.merge(
        _object(request), body["master_id"], list(body["loser_ids"]), body.get("master_fields")
    )
    return Response(status_code=204)


def _seed(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    companies = generate_companies(
        int(body["count"]),
        contacts_per_company=int(body.get("contacts_per_company", 0)),
        seed=int(body.get("seed", 0)),
    )
    return {"account_ids": sandbox.seed(companies)}


def _faults(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    if request.method == "POST":
        sandbox.faults.add(FaultRule(**body))
    elif request.method == "DELETE":
        sandbox.faults.clear()
    return [asdict(rule) for rule in sandbox.faults.rules]


def _counters(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    if request.url.path.endswith("/reset"):
        sandbox.faults.reset_counters()
    return sandbox.faults.snapshot()


def _api_usage(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    if request.method == "POST":
        sandbox.set_api_usage(int(body["used"]))
    return {"used": sandbox.api_usage, "max": sandbox.org.usage.limit}


def _outbound(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    if request.method == "POST":
        registration = sandbox.register_outbound(
            body["endpoint_url"],
            body["object"],
            list(body.get("fields", [])),
            send_session_id=bool(body.get("send_session_id", False)),
        )
        return registration.as_dict()
    return [r.as_dict() for r in sandbox.outbound.registrations.values()]


def _outbound_control(sandbox: SalesforceSandbox, request: Request, body: Any) -> Any:
    action = request.path_params["action"]
    if action == "flush":
        return {"flushed": sandbox.flush_outbound(float(body.get("timeout", 10.0)))}
    if action == "pause":
        sandbox.pause_outbound()
    elif action == "resume":
        sandbox.resume_outbound()
    else:
        sandbox.unregister_outbound(action)
    return {"pending": sandbox.outbound.pending_count}


def admin_routes() -> list[Route]:
    return [
        Route("/credentials", _admin(_credentials), methods=["GET"]),
        Route("/sessions", _admin(_issue_session), methods=["POST"]),
        Route("/sessions/expire", _admin(_expire_sessions), methods=["POST"]),
        Route("/refresh-token/revoke", _admin(_revoke_refresh_token), methods=["POST"]),
        Route("/records/{object}", _admin(_list_records), methods=["GET"]),
        Route("/records/{object}", _admin(_create), methods=["POST"]),
        Route("/records/{object}/merge", _admin(_merge), methods=["POST"]),
        Route("/records/{object}/{id}", _admin(_get_record), methods=["GET"]),
        Route("/records/{object}/{id}", _admin(_update), methods=["PATCH"]),
        Route("/records/{object}/{id}", _admin(_delete), methods=["DELETE"]),
        Route("/records/{object}/{id}/undelete", _admin(_undelete), methods=["POST"]),
        Route("/seed", _admin(_seed), methods=["POST"]),
        Route("/faults", _admin(_faults), methods=["GET", "POST", "DELETE"]),
        Route("/counters", _admin(_counters), methods=["GET"]),
        Route("/counters/reset", _admin(_counters), methods=["POST"]),
        Route("/api-usage", _admin(_api_usage), methods=["GET", "POST"]),
        Route("/outbound", _admin(_outbound), methods=["GET", "POST"]),
        Route("/outbound/{action}", _admin(_outbound_control), methods=["POST", "DELETE"]),
    ]  # fmt: skip
