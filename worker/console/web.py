"""What every console page shares: who is signed in, rendering, database work off the
event loop, form checks (CSRF, role), and turning errors into pages.

Pages are declared with :func:`page` (any signed-in user) and actions with :func:`action`
(a POST: CSRF token checked, then the operator role unless ``viewer_may``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from customers.console_users import ConsoleUser
from customers.db import transaction
from customers.errors import InvalidInput, NotFound
from customers.models import Tenant
from worker.console.auth import CSRF_FIELD, LoginThrottle, SignedIn, csrf_ok, csrf_token
from worker.console.jobs import JobRunner
from worker.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LARGEST_ID = 2**31 - 1  # ids beyond this exist nowhere (and PostgreSQL would refuse them)


@dataclass
class Console:
    """The app's shared parts, kept on ``app.state.console``."""

    sessions: sessionmaker[Session]
    jobs: JobRunner
    throttle: LoginThrottle
    settings: Settings
    redis: redis.Redis | None  # where API budgets are kept, when there is one


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def in_db(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, on a worker thread (the event loop never waits)."""
    sessions = console_of(request).sessions

    def run() -> T:
        with transaction(sessions) as session:
            return work(session)

    return await run_in_threadpool(run)


async def in_tenant(request: Request, work: Callable[[Session, int], T]) -> T:
    """``work`` on the signed-in user's tenant: every read and write is scoped by its id."""
    tenant_id = user_of(request).tenant_id
    return await in_db(request, lambda session: work(session, tenant_id))


def user_of(request: Request) -> SignedIn:
    user: SignedIn = request.state.user
    return user


async def _signed_in(request: Request) -> SignedIn | None:
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None

    def load(session: Session) -> SignedIn | None:
        row = session.execute(
            select(ConsoleUser, Tenant.slug)
            .join(Tenant, Tenant.id == ConsoleUser.tenant_id)
            .where(ConsoleUser.id == user_id)
        ).first()
        if row is None:
            return None
        user, slug = row
        return SignedIn(user.id, user.email, user.tenant_id, slug, user.role)

    user = await in_db(request, load)
    if user is None:
        request.session.clear()  # the user was removed
    return user


def _to_login(request: Request) -> Response:
    """To the sign-in form, which comes back to this page (an action is not repeated: its
    form would be stale by then)."""
    if request.method != "GET":
        return RedirectResponse("/login", status_code=303)
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    flash = request.session.pop("flash", None)
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": getattr(request.state, "user", None),
            "csrf": csrf_token(request),
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )


def problem(request: Request, status_code: int, title: str, detail: str = "") -> Response:
    return render(request, "problem.html", status_code, title=title, detail=detail)


def page(handler: Handler) -> Handler:
    """A page any signed-in user may read; others are sent to sign in."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        user = await _signed_in(request)
        if user is None:
            return _to_login(request)
        request.state.user = user
        refuse_nul(request.query_params)
        return await handler(request)

    return endpoint


def refuse_nul(fields: Any) -> None:
    """No query or form value may hold a NUL: PostgreSQL text cannot, so none is stored and
    none can match; one is refused (400 naming the field) before any SQL sees it."""
    for key, value in fields.multi_items():
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            name = key.replace("\x00", "")[:40] or "field"
            raise InvalidInput.single(name, "holds a NUL character")


async def read_form(request: Request) -> FormData:
    """The posted form: fields only, no files (the body size is bounded by middleware)."""
    form = await request.form(max_files=0, max_fields=1000)
    refuse_nul(form)
    return form


def action(
    *, viewer_may: bool = False
) -> Callable[[Callable[[Request, FormData], Awaitable[Response]]], Handler]:
    """A POST: signed in, the session's CSRF token, and the operator role (unless
    ``viewer_may``); each check failed answers before anything is read or written."""

    def decorate(handler: Callable[[Request, FormData], Awaitable[Response]]) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = await _signed_in(request)
            if user is None:
                return _to_login(request)
            request.state.user = user
            form = await read_form(request)
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return problem(
                    request,
                    403,
                    "Refused",
                    "The form was stale or forged: reload the page and try again.",
                )
            if not viewer_may and not user.is_operator:
                return problem(
                    request, 403, "Refused", "Your role is viewer: only an operator may do this."
                )
            return await handler(request, form)

        return endpoint

    return decorate


def done(request: Request, message: str, back: str) -> Response:
    """After an action: say what happened on the next page, and go there."""
    request.session["flash"] = message
    return RedirectResponse(back, status_code=303)


def local_path(value: object, default: str) -> str:
    """A path on this site to return to; anything else (another site) is the default."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return default


def path_id(request: Request, name: str = "id") -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value <= LARGEST_ID:
        raise NotFound(name.replace("_", " "), value)
    return value


def int_param(value: str | None, field: str) -> int | None:
    """An optional id from a query string or form; a wrong one names the field."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or not 0 < int(text) <= LARGEST_ID:
        raise InvalidInput.single(field, f"{value[:40]!r} is not an id")
    return int(text)


def ids_param(values: list[str], field: str) -> list[int]:
    ids = [int_param(value, field) for value in values]
    chosen = [value for value in ids if value is not None]
    if not chosen:
        raise InvalidInput.single(field, "choose at least one")
    return list(dict.fromkeys(chosen))
