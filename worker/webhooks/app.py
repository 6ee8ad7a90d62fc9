"""The webhooks ASGI app: HubSpot webhooks, Salesforce Outbound Messages and health.

    POST /webhooks/hubspot               signed JSON arrays of events
    POST /webhooks/salesforce/{token}    SOAP notifications; the token names the connection
    GET  /healthz                        the process answers
    GET  /readyz                         the database and the broker answer

The CRM routes come from the provider table (``connectors.registry.PROVIDERS``); reading
each CRM's requests is its connector package's job (``connectors.<crm>.webhooks``).

Metrics are not served here (this port is public): ``crmsync webhooks`` serves
``worker.metrics`` on a private listener of its own.

A request is answered as soon as its events are stored and their records enqueued; no CRM
is called here (HubSpot gives up after 5 seconds). Every refusal is decided before
anything is written: 413 body too large, 400 wrong content type or not the CRM's format,
401 bad, missing or stale signature, 404 unknown portal, org or token. A database or
broker failure answers 503, so the CRM delivers again later. No input makes a 500.

Each request's log lines carry a ``request_id`` (the caller's ``X-Request-Id`` when it is a
plain token, else a new one) and, once known, the ``connection_id``.

This module must not log request bodies, signatures or secrets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope
from starlette.types import Send as Send_

from connectors.hubspot import webhooks as hubspot
from connectors.registry import PROVIDERS
from connectors.salesforce import webhooks as salesforce
from connectors.webhooks import Rejected
from customers.db import transaction
from customers.sync_state import Connection
from worker import logs, metrics, tracing
from worker.jobs import enqueue
from worker.settings import Settings, get_settings
from worker.webhooks.intake import Accepted, Send, accept, connections_for

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
XML_TYPES = ("text/xml", "application/soap+xml", "application/xml")
MAX_TOKEN_LENGTH = 64
TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_LENGTH}}}")


def _default_sessions() -> sessionmaker[Session]:
    from worker.database import sessions

    return sessions()


def _broker_ping() -> None:
    client = getattr(enqueue.broker, "client", None)
    if client is not None:
        client.ping()


def build_app(
    settings: Settings | None = None,
    *,
    sessions: Callable[[], sessionmaker[Session]] = _default_sessions,
    send: Send | None = None,
) -> Starlette:
    """The app; ``sessions`` and ``send`` default to the process's database and broker."""
    config = settings or get_settings()
    secret = config.hubspot_client_secret
    if secret is None:
        log.warning("CRMSYNC_HUBSPOT_CLIENT_SECRET is not set: HubSpot webhooks are refused")

    def sender(*args: Any) -> Any:
        # Looked up per call, so the broker in place when a request comes is the one used.
        return (send or enqueue.send)(*args)

    async def receive_hubspot(request: Request) -> Response:
        body = await _read(request, JSON_TYPES, config.webhooks_max_body_bytes)
        if secret is None:
            return PlainTextResponse("HubSpot webhooks are not configured", status_code=503)
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "malformed", "body is not UTF-8") from None
        scope = request.scope
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        path_and_query = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        # Behind a proxy the public URL is configured; else it is where the request came.
        base = config.webhooks_public_url or f"{request.url.scheme}://{request.url.netloc}"
        uri = hubspot.signed_uri(base, path_and_query)
        hubspot.verify(
            request.headers,
            text_body,
            uri=uri,
            client_secret=secret.get_secret_value(),
            max_age_s=config.hubspot_webhook_max_age_s,
            require_v3=config.hubspot_webhook_require_v3,
        )
        events = hubspot.parse(text_body)

        def work() -> Accepted:
            with transaction(sessions()) as session:
                known = connections_for(session, hubspot.PROVIDER, (e.account_id for e in events))
                if not known:
                    raise Rejected(404, "unknown_account", "no connection for these portals")
                if len(known) == 1:  # this thread's context only (run_in_threadpool copies it)
                    logs.bind(connection_id=next(iter(known.values())).id)
                return accept(session, hubspot.PROVIDER, events, known, send=sender)

        outcome = await run_in_threadpool(work)
        return JSONResponse(_summary(outcome))

    async def receive_salesforce(request: Request) -> Response:
        token = request.path_params["token"]
        body = await _read(request, XML_TYPES, config.webhooks_max_body_bytes)
        if not TOKEN.fullmatch(token):  # tokens are URL-safe base64 (a NUL never reaches SQL)
            raise Rejected(404, "unknown_token", "unknown token")

        def work() -> Accepted:
            with transaction(sessions()) as session:
                connection = session.scalar(
                    select(Connection).where(
                        Connection.provider == salesforce.PROVIDER,
                        Connection.webhook_token == token,
                    )
                )
                if connection is None:
                    raise Rejected(404, "unknown_token", "unknown token")
                logs.bind(connection_id=connection.id)
                message = salesforce.parse(body)
                if message.organization_id != connection.account_id:
                    raise Rejected(404, "unknown_account", "organization does not match")
                known = {connection.account_id: connection}
                return accept(session, salesforce.PROVIDER, message.events, known, send=sender)

        await run_in_threadpool(work)
        return Response(salesforce.ACK, media_type="text/xml; charset=utf-8")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        probes: dict[str, Callable[[], None]] = {
            "database": lambda: _database_ping(sessions()),
            "broker": _broker_ping,
        }

        def check() -> dict[str, str]:
            results = {}
            for name, probe in probes.items():
                try:
                    probe()
                    results[name] = "ok"
                except Exception as error:
                    results[name] = f"unavailable: {type(error).__name__}"
            return results

        results = await run_in_threadpool(check)
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(results, status_code=200 if ready else 503)

    metrics.watch_database(sessions, metrics.queue_depth)
    # One route per CRM, at the path the provider table gives it.
    receivers = {hubspot.PROVIDER: receive_hubspot, salesforce.PROVIDER: receive_salesforce}
    webhook_routes = [
        Route(entry.webhook_path, _guard(entry.name, receivers[entry.name]), methods=["POST"])
        for entry in PROVIDERS.values()
    ]
    app = Starlette(
        routes=[
            *webhook_routes,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=[Middleware(RequestIds)],
    )
    tracing.instrument_app(app)
    return app


REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIds:
    """Binds a ``request_id`` to the log lines of each request (and returns it as
    ``X-Request-Id``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send_) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        with logs.bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def _database_ping(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.execute(text("SELECT 1"))


def _summary(outcome: Accepted) -> dict[str, Any]:
    return {
        "events": outcome.events,
        "duplicates": outcome.duplicates,
        "ignored": outcome.ignored,
        "jobs": len(outcome.jobs),
    }


def _guard(
    provider: str, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """Refusals become their status; anything unexpected a 503 the CRM will retry."""

    async def run(request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await handler(request)
        except Rejected as refusal:
            metrics.requests_rejected.labels(provider, refusal.reason).inc()
            return PlainTextResponse(str(refusal), status_code=refusal.status)
        except Exception:
            metrics.requests_rejected.labels(provider, "unavailable").inc()
            log.exception("%s webhook not taken; the CRM will deliver it again", provider)
            return PlainTextResponse("temporarily unavailable", status_code=503)
        finally:
            metrics.request_seconds.labels(provider).observe(time.perf_counter() - started)

    return run


async def _read(request: Request, content_types: tuple[str, ...], limit_bytes: int) -> bytes:
    """The body, read no further than ``limit_bytes``; checks the content type first."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in content_types:
        raise Rejected(400, "content_type", f"content type must be {' or '.join(content_types)}")
    declared = request.headers.get("content-length")
    if declared is not None:
        # isascii: '²'.isdigit() is true, and int() refuses it.
        if not (declared.isascii() and declared.isdigit()) or len(declared) > 18:
            raise Rejected(400, "malformed", "bad Content-Length")
        if int(declared) > limit_bytes:
            raise Rejected(413, "too_large", f"body over {limit_bytes} bytes")
    chunks, received = [], 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit_bytes:
                raise Rejected(413, "too_large", f"body over {limit_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The sender went away mid-body: nothing to take, nobody to answer, no outage.
        raise Rejected(
            400, "client_disconnected", "the client left before the body ended"
        ) from None
    return b"".join(chunks)
