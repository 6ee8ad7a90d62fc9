"""The REST API over HTTP: Salesforce's real paths, auth, limits, faults and headers.

Every request under ``/services/data/vXX.X/`` goes through one pipeline, in the order
Salesforce applies it: count the call for the fault counters, check the session (401),
charge the daily allocation (403), apply any injected fault, then run the resource.
Responses carry ``Sforce-Limit-Info``; only the versions list (``/services/data/``)
and OAuth do not. Resource code runs in a worker thread so a big query never stalls
the event loop, where latency and timeout faults sleep.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import composite, replication, sobjects
from .auth import token_response
from .describe import describe_global, describe_object, object_summary
from .errors import ApiError, fault_error, invalid_session, not_found, request_limit_exceeded
from .org import Org, is_supported_version, supported_versions
from .query import batch_size_from_header

JSON_TYPE = "application/json;charset=UTF-8"
_DATA_PATH = re.compile(r"^/services/data/v(?P<version>[^/]+)(?P<rest>/.*)?$")


@dataclass
class Call:
    """One REST call as the resource functions see it."""

    org: Org
    version: str
    method: str
    params: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    groups: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError as error:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {error}") from None

    def object_name(self) -> str:
        name = self.groups["object"]
        match = next((n for n in self.org.store.schema if n.lower() == name.lower()), None)
        if match is None:
            raise not_found()
        return match


Handler = Callable[[Call], tuple[int, Any]]


def _query(call: Call, include_deleted: bool) -> tuple[int, Any]:
    soql = call.params.get("q")
    if soql is None:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    batch = batch_size_from_header(call.headers.get("sforce-query-options"))
    return 200, call.org.query.start(
        soql, include_deleted=include_deleted, version=call.version, batch_size=batch
    )


def _query_more(call: Call) -> tuple[int, Any]:
    batch = batch_size_from_header(call.headers.get("sforce-query-options"))
    return 200, call.org.query.more(call.groups["locator"], batch_size=batch)


def _limits(call: Call) -> tuple[int, Any]:
    usage = call.org.usage
    used = usage.used
    return 200, {
        "DailyApiRequests": {"Max": usage.limit, "Remaining": max(usage.limit - used, 0)},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DataStorageMB": {"Max": 5, "Remaining": 5},
    }


def _resources(call: Call) -> tuple[int, Any]:
    base = f"/services/data/v{call.version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite")
    return 200, {name: f"{base}/{name}" for name in names}


COMPOSITE_MAX = 25  # subrequests per Composite call
_SUBREQUEST_URL = re.compile(
    r"^/services/data/v(?P<version>[^/?]+)(?P<rest>/[^?]*)?(?:\?(?P<query>.*))?$"
)


def _composite(call: Call) -> tuple[int, Any]:
    """The Composite resource: up to 25 subrequests in one API call, each answered in
    ``compositeResponse`` with its own status, headers and body; the call itself answers
    200 whatever they did. Subrequests carry their own ``httpHeaders`` (a conditional
    ``If-Unmodified-Since`` on an sObject Rows PATCH answers that one with 412). Runs
    ``allOrNone: false`` (each subrequest stands alone); references between subrequests
    (``@{ref.id}``) are not supported here and answer 400."""
    body = call.json()
    requests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest is required and must be a list")
    if len(requests) > COMPOSITE_MAX:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"Maximum number of subrequests allowed is {COMPOSITE_MAX}"
        )
    if body.get("allOrNone"):
        raise ApiError(
            400, "INVALID_INPUT", "this sandbox runs Composite with allOrNone false only"
        )
    answers = []
    for sub in requests:
        answers.append(_subrequest(call, sub))
    return 200, {"compositeResponse": answers}


def _subrequest(call: Call, sub: Any) -> dict[str, Any]:
    reference = sub.get("referenceId") if isinstance(sub, dict) else None
    try:
        if not isinstance(sub, dict) or not isinstance(reference, str) or not reference:
            raise ApiError(400, "INVALID_INPUT", "each subrequest needs a referenceId")
        url = str(sub.get("url") or "")
        match = _SUBREQUEST_URL.match(url)
        if match is None or "@{" in url or "@{" in json.dumps(sub.get("body")):
            raise ApiError(400, "INVALID_INPUT", f"unsupported subrequest url: {url!r}")
        method = str(sub.get("method") or "").upper()
        key, handler, groups, route_error = resolve(method, match["rest"] or "/")
        if (
            route_error is not None
            or handler is None
            or key == "composite"
            or key.startswith("bulk2")
        ):
            raise route_error or ApiError(400, "INVALID_INPUT", f"not allowed in Composite: {url}")
        headers = sub.get("httpHeaders") or {}
        if not isinstance(headers, dict):
            raise ApiError(400, "INVALID_INPUT", "httpHeaders must be an object")
        status, answer = handler(
            Call(
                org=call.org,
                version=match["version"],
                method=method,
                params=dict(parse_qsl(match["query"] or "")),
                headers={str(k).lower(): str(v) for k, v in headers.items()},
                raw_body=b"" if sub.get("body") is None else json.dumps(sub["body"]).encode(),
                groups=groups,
            )
        )
    except ApiError as error:
        status, answer = error.status, error.body()
    return {"body": answer, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}


def _ext(call: Call) -> tuple[str, str]:
    return call.groups["field"], unquote(call.groups["value"], encoding="utf-8")


# (method, path pattern under /services/data/vXX.X, endpoint key, handler); first match wins.
ROUTES: list[tuple[str, str, str, Handler]] = [
    ("GET", r"/?", "resources", _resources),
    ("GET", r"/limits/?", "limits", _limits),
    ("GET", r"/query/?", "query", lambda c: _query(c, False)),
    ("GET", r"/queryAll/?", "queryAll", lambda c: _query(c, True)),
    ("GET", r"/(?:query|queryAll)/(?P<locator>01g[^/]*)", "queryMore", _query_more),
    ("GET", r"/sobjects/?", "describe.global", lambda c: (200, describe_global(c.org.store.schema, c.version))),
    ("GET", r"/sobjects/(?P<object>\w+)/describe/?", "sobject.describe",
     lambda c: (200, describe_object(c.org.store.object(c.object_name()), c.version))),
    ("GET", r"/sobjects/(?P<object>\w+)/updated/?", "updated",
     lambda c: (200, replication.updated(c.org.store, c.object_name(), c.params.get("start"), c.params.get("end")))),
    ("GET", r"/sobjects/(?P<object>\w+)/deleted/?", "deleted",
     lambda c: (200, replication.deleted(c.org.store, c.object_name(), c.params.get("start"), c.params.get("end")))),
    ("GET", r"/sobjects/(?P<object>\w+)/?", "sobject.metadata",
     lambda c: (200, {"objectDescribe": object_summary(c.org.store.object(c.object_name()), c.version), "recentItems": []})),
    ("POST", r"/sobjects/(?P<object>\w+)/?", "sobject.create",
     lambda c: sobjects.create(c.org.store, c.object_name(), c.json())),
    ("GET", r"/sobjects/(?P<object>\w+)/(?P<id>[^/]+)", "sobject.get",
     lambda c: sobjects.get(c.org.store, c.object_name(), c.groups["id"], c.version, c.params.get("fields"))),
    ("PATCH", r"/sobjects/(?P<object>\w+)/(?P<id>[^/]+)", "sobject.update",
     lambda c: sobjects.update(c.org.store, c.object_name(), c.groups["id"], c.json(),
                               c.headers.get("if-unmodified-since"))),
    ("DELETE", r"/sobjects/(?P<object>\w+)/(?P<id>[^/]+)", "sobject.delete",
     lambda c: sobjects.delete(c.org.store, c.object_name(), c.groups["id"])),
    ("GET", r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>.+)", "sobject.get_by_external_id",
     lambda c: sobjects.get_by_external_id(c.org.store, c.object_name(), *_ext(c), c.version, c.params.get("fields"))),
    ("PATCH", r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>.+)", "sobject.upsert",
     lambda c: sobjects.upsert(c.org.store, c.object_name(), *_ext(c), c.json(), c.version,
                               update_only=c.params.get("updateOnly", "").lower() == "true")),
    ("DELETE", r"/sobjects/(?P<object>\w+)/(?P<field>\w+)/(?P<value>.+)", "sobject.delete_by_external_id",
     lambda c: sobjects.delete_by_external_id(c.org.store, c.object_name(), *_ext(c), c.version)),
    ("POST", r"/jobs/query/?", "bulk2.query.create", lambda c: c.org.bulk.create(c.json(), c.version)),
    ("GET", r"/jobs/query/(?P<job>\w+)/results/?", "bulk2.query.results",
     lambda c: c.org.bulk.results(c.groups["job"], c.params)),
    ("GET", r"/jobs/query/(?P<job>\w+)/?", "bulk2.query.get", lambda c: c.org.bulk.get(c.groups["job"])),
    ("PATCH", r"/jobs/query/(?P<job>\w+)/?", "bulk2.query.abort", lambda c: c.org.bulk.abort(c.groups["job"], c.json())),
    ("DELETE", r"/jobs/query/(?P<job>\w+)/?", "bulk2.query.delete", lambda c: c.org.bulk.delete(c.groups["job"])),
    ("POST", r"/composite/?", "composite", _composite),
    ("POST", r"/composite/sobjects/?", "collections.create", lambda c: composite.create(c.org.store, c.json())),
    ("PATCH", r"/composite/sobjects/?", "collections.update", lambda c: composite.update(c.org.store, c.json())),
    ("DELETE", r"/composite/sobjects/?", "collections.delete",
     lambda c: composite.delete(c.org.store, c.params.get("ids"), c.params.get("allOrNone", "false").lower() == "true")),
    ("GET", r"/composite/sobjects/(?P<object>\w+)/?", "collections.retrieve",
     lambda c: composite.retrieve(c.org.store, c.object_name(), c.params.get("ids"), c.params.get("fields"), c.version)),
    ("PATCH", r"/composite/sobjects/(?P<object>\w+)/(?P<field>\w+)/?", "collections.upsert",
     lambda c: composite.upsert(c.org.store, c.object_name(), c.groups["field"], c.json())),
]  # fmt: skip
_COMPILED = [
    (method, re.compile(pattern + "$"), key, handler) for method, pattern, key, handler in ROUTES
]


def resolve(method: str, path: str) -> tuple[str, Handler | None, dict[str, str], ApiError | None]:
    """Endpoint key, handler and path groups; or an error for unknown paths/methods."""
    allowed = []
    for route_method, pattern, key, handler in _COMPILED:
        match = pattern.match(path)
        if match is None:
            continue
        if route_method == method:
            return key, handler, match.groupdict(), None
        allowed.append(route_method)
    if allowed:
        error = ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(set(allowed)))}",
        )
        return "unknown", None, {}, error
    return "unknown", None, {}, not_found()


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if isinstance(body, Response):  # a resource that answers other than JSON (CSV)
        body.headers.update(headers)
        return body
    if status == 204 or body is None:
        return Response(status_code=status, headers=headers)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(content, status_code=status, headers=headers, media_type=JSON_TYPE)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""


async def _stall(org: Org, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not org.stopping.is_set():
        await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))


async def data_endpoint(request: Request) -> Response:
    org: Org = request.app.state.org
    # The raw path keeps percent-escapes, so an external id holding "/" or "%" survives.
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    if path in ("/services/data", "/services/data/"):
        return JSONResponse(supported_versions())
    match = _DATA_PATH.match(path)
    if match is None or not is_supported_version(match["version"]):
        return _response(404, not_found().body(), {})
    key, handler, groups, route_error = resolve(request.method, match["rest"] or "/")
    org.faults.count_call(key)
    header = request.headers.get("authorization")
    if header is not None and header.partition(" ")[0].lower() not in ("bearer", "oauth"):
        # A header that is there but not "Bearer <token>" gets its own error code.
        error = ApiError(401, "INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE")
        return _response(error.status, error.body(), {})
    if not org.sessions.is_valid(_bearer(request)):
        return _response(401, invalid_session().body(), {})
    if not org.usage.consume():
        error = request_limit_exceeded()
        return _response(error.status, error.body(), {"Sforce-Limit-Info": org.usage.header()})
    headers = {"Sforce-Limit-Info": org.usage.header()}
    decision = org.faults.decide(key)
    if decision is not None:
        if decision.kind == "timeout":
            await _stall(org, decision.delay_s)
            error = ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
            return _response(error.status, error.body(), headers)
        if decision.delay_s:
            await _stall(org, decision.delay_s)
        if decision.kind == "error":
            error = fault_error(decision.status)
            return _response(error.status, error.body(), headers)
    if route_error is not None or handler is None:
        error = route_error or not_found()
        return _response(error.status, error.body(), headers)
    call = Call(
        org=org,
        version=match["version"],
        method=request.method,
        params=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        raw_body=await request.body(),
        groups=groups,
    )
    try:
        status, body = await run_in_threadpool(handler, call)
    except ApiError as error:
        status, body = error.status, error.body()
    return _response(status, body, headers)


async def token_endpoint(request: Request) -> Response:
    org: Org = request.app.state.org
    org.faults.count_call("oauth.token")
    decision = org.faults.decide("oauth.token")
    if decision is not None and decision.delay_s:
        await _stall(org, decision.delay_s)
    if decision is not None and decision.kind != "latency":
        return JSONResponse(
            {"error": "server_error", "error_description": "internal server error"},
            status_code=decision.status if decision.kind == "error" else 503,
        )
    # Salesforce takes the parameters form-encoded in the body or in the query string.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    form = {**dict(request.query_params), **form}
    status, body = token_response(
        form,
        credentials=org.credentials,
        sessions=org.sessions,
        instance_url=org.instance_url,
        org_id=org.org_id,
        issued_at_ms=int(org.clock().timestamp() * 1000),
        revoked=org.refresh_token_revoked,
    )
    return JSONResponse(
        body,
        status_code=status,
        headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"},
    )
