"""What every HubSpot API route shares: the endpoint wrapper (auth, rate limits, faults,
call counting, HubSpot-shaped errors), JSON in and out, and query-string parsing.

Routes are plain ``async def handler(request, object_type)`` functions that raise
:class:`HubSpotError`; :func:`endpoint` turns them into Starlette endpoints. Order matters
and follows HubSpot: authentication first (a bad token is a 401 even when rate limited),
then the rate limit, then whatever fault a test asked for, then the work itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.faults import FaultDecision, Faults
from sandbox.hubspot.auth import TokenAuthority
from sandbox.hubspot.bodies import Shape, check
from sandbox.hubspot.errors import HubSpotError, invalid_json, validation_error
from sandbox.hubspot.properties import OBJECT_TYPE_ALIASES
from sandbox.hubspot.ratelimit import RateLimiter
from sandbox.hubspot.records import dumps
from sandbox.hubspot.search import SearchEngine
from sandbox.hubspot.sources import acting_app_id
from sandbox.hubspot.store import PortalStore

if TYPE_CHECKING:
    from sandbox.hubspot.owners import OwnerDirectory


def _seeded_owners() -> OwnerDirectory:
    from sandbox.hubspot.owners import OwnerDirectory  # it imports this module

    return OwnerDirectory.seeded()


JSON_MEDIA_TYPE = "application/json;charset=utf-8"
Handler = Callable[[Request, str], Awaitable[Response]]
# Fault error statuses and the HubSpot categories and messages they come with.
FAULT_BODIES = {
    423: (
        "LOCKED",
        "The object is locked by another request; retry after a delay of at least 2 seconds.",
    ),
    500: ("INTERNAL_ERROR", "internal error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
}


@dataclass
class ApiContext:
    store: PortalStore
    search: SearchEngine
    auth: TokenAuthority
    faults: Faults
    limiter: RateLimiter | None
    owners: OwnerDirectory = field(default_factory=lambda: _seeded_owners())
    # Set when the sandbox stops, so stalled "timeout" faults end instead of holding up
    # the server's graceful shutdown for their whole stall.
    stopping: bool = False


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, media_type=JSON_MEDIA_TYPE, headers=headers)


def raw_json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE)


def error_response(error: HubSpotError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.body(), error.status, {**(headers or {}), **error.headers})


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_json() from None


async def read_body(request: Request, shape: Shape) -> Any:
    """The JSON body, checked against the route's request shape before any field is read."""
    return check(await read_json(request), shape)


def object_type_of(segment: str) -> str:
    object_type = OBJECT_TYPE_ALIASES.get(segment)
    if object_type is None:
        raise HubSpotError(
            400, f"Unable to infer object type from: {segment}", category="VALIDATION_ERROR"
        )
    return object_type


def list_param(request: Request, name: str) -> list[str]:
    """A list query parameter, repeated (``?a=x&a=y``, as the SDK sends) or comma-separated."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values += [part for part in raw.split(",") if part]
    return values


def bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise validation_error(f"{name} must be true or false; got {value!r}.")
    return value == "true"


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer; got {raw!r}.") from None


def fault_error(decision: FaultDecision) -> HubSpotError:
    if decision.status == 429:
        return HubSpotError(
            429,
            "You have reached your ten_secondly_rolling limit.",
            category="RATE_LIMITS",
            extra={"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
        )
    category, message = FAULT_BODIES.get(decision.status, ("INTERNAL_ERROR", "internal error"))
    return HubSpotError(decision.status, message, category=category)


async def _pause(ctx: ApiContext, delay_s: float) -> None:
    """Sleep without blocking the event loop, in steps, so stopping the sandbox ends it."""
    deadline = asyncio.get_running_loop().time() + delay_s
    while not ctx.stopping:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, 0.05))


def endpoint(
    ctx: ApiContext,
    key: str,
    handler: Handler,
    *,
    search: bool = False,
    typed_by: str | None = "object_type",
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a route handler. ``key`` may contain ``{type}``, filled from the path parameter
    named by ``typed_by``, e.g. ``"{type}.batch.upsert"`` -> ``"companies.batch.upsert"``."""

    async def run(request: Request) -> Response:
        headers: dict[str, str] = {}
        endpoint_key = key
        acting = acting_app_id.set(None)
        try:
            object_type = ""
            if typed_by is not None:
                object_type = object_type_of(request.path_params[typed_by])
                endpoint_key = key.replace("{type}", object_type)
            ctx.faults.count_call(endpoint_key)
            oauth = ctx.auth.check(request.headers.get("authorization"))
            acting_app_id.set(ctx.auth.app_id(oauth=oauth))
            if ctx.limiter is not None:
                if search:
                    ctx.limiter.take_search()
                else:
                    headers = ctx.limiter.take(oauth=oauth)
            decision = ctx.faults.decide(endpoint_key)
            if decision is not None:
                await _pause(ctx, decision.delay_s)
                if decision.kind == "timeout":
                    return error_response(fault_error(FaultDecision("error", status=504)), headers)
                if decision.kind == "error":
                    raise fault_error(decision)
            response = await handler(request, object_type)
        except HubSpotError as error:
            return error_response(error, headers)
        finally:
            acting_app_id.reset(acting)
        response.headers.update(headers)
        return response

    return run
