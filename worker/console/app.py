"""The console's Starlette app: middleware (body limit, security headers, the signed
session), sign-in and sign-out, the pages of ``worker.console.views``, and error pages.

No page ever shows a traceback: a directory error becomes its page (404 for an id that
is not the tenant's, 400 naming the field for bad input, 409 for a refused action), and
anything else a plain 500 page with the details in the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customers.errors import DirectoryError, InvalidInput, NotFound
from worker import connection_status, tracing
from worker.console import auth, users
from worker.console.jobs import JobRunner
from worker.console.views import conflicts, connections, customers, failures, reviews, runs
from worker.console.web import (
    Console,
    action,
    console_of,
    in_db,
    local_path,
    problem,
    read_form,
    refuse_nul,
    render,
)
from worker.settings import Settings

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        b"script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class BodyLimit:
    """Refuse (413) a request body larger than ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        text = b"The request is too large."
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_form(request: Request) -> Response:
    if isinstance(request.session.get("uid"), int):
        return RedirectResponse("/connections", status_code=303)
    refuse_nul(request.query_params)
    back = local_path(request.query_params.get("next"), "/connections")
    return render(request, "login.html", back=back, email="")


async def login(request: Request) -> Response:
    form = await read_form(request)
    back = local_path(form.get("next"), "/connections")
    if not auth.csrf_ok(request, form.get(auth.CSRF_FIELD)):
        return problem(request, 403, "Refused", "The form was stale: reload the page and sign in.")
    email = str(form.get("email") or "").strip().lower()[:254]
    password = str(form.get("password") or "")
    throttle = console_of(request).throttle
    keys = (f"email:{email}", f"client:{_client(request)}")
    if throttle.blocked(*keys):
        return render(
            request,
            "login.html",
            429,
            back=back,
            email=email,
            error="Too many failed sign-ins: wait a few minutes and try again.",
        )
    user = await in_db(request, lambda session: users.authenticate(session, email, password))
    if user is None:
        throttle.failed(*keys)
        log.info("console: failed sign-in from %s", _client(request))
        return render(
            request,
            "login.html",
            401,
            back=back,
            email=email,
            error="That email and password do not match an account.",
        )
    throttle.succeeded(keys[0])
    auth.start_session(request, user.id)
    return RedirectResponse(back, status_code=303)


@action(viewer_may=True)
async def logout(request: Request, form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def home(request: Request) -> Response:
    return RedirectResponse("/connections", status_code=303)


async def _not_found(request: Request, error: Exception) -> Response:
    return problem(request, 404, "Not found", str(error) if isinstance(error, NotFound) else "")


async def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidInput)
    detail = "; ".join(f"{e.field}: {e.reason}" for e in error.errors)
    return problem(request, 400, "Invalid input, nothing was changed", detail)


async def _refused(request: Request, error: Exception) -> Response:
    return problem(request, 409, "Not done", str(error))


async def _http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return problem(request, error.status_code, str(error.detail))


async def _internal(request: Request, error: Exception) -> Response:
    log.error("console: %s %s failed", request.method, request.url.path, exc_info=error)
    return Response(
        "Something went wrong; the details are in the console's log.",
        status_code=500,
        media_type="text/plain",
    )


def build_app(
    settings: Settings, sessions: sessionmaker[Session], *, host: str = "127.0.0.1"
) -> Starlette:
    """The console for one database; ``host`` is where it listens (for the cookie's
    Secure default)."""
    console = Console(
        sessions=sessions,
        jobs=JobRunner(),
        throttle=auth.LoginThrottle(),
        settings=settings,
        redis=connection_status.redis_client(settings),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        console.jobs.close()

    routes: list[Any] = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount(
            "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
        ),
        *connections.routes,
        *runs.routes,
        *failures.routes,
        *conflicts.routes,
        *reviews.routes,
        *customers.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, max_bytes=settings.console_max_body_bytes),
            Middleware(
                SessionMiddleware,
                secret_key=auth.secret_key(settings),
                session_cookie="crmsync_console",
                max_age=settings.console_session_max_age_s,
                same_site="strict",
                https_only=auth.https_only(settings, host),
            ),
        ],
        exception_handlers={
            NotFound: _not_found,
            InvalidInput: _invalid,
            DirectoryError: _refused,
            HTTPException: _http,
            Exception: _internal,
        },
        lifespan=lifespan,
    )
    app.state.console = console
    tracing.instrument_app(app)
    return app
