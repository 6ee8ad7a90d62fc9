"""What every CLI command shares: settings, a database session, output, error handling."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar, get_type_hints

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.models import ArgumentInfo, OptionInfo

from customers import db
from customers.errors import DirectoryError, InvalidInput, NotFound, StaleVersion
from customers.models import Tenant
from customers.service import get_tenant
from worker.database import engine, sessions
from worker.settings import get_settings

# Markup is off: names, reasons and values are users' text, and a "[/]" in one would
# stop the command with a MarkupError. Styled words pass markup=True and escape the rest.
console = Console(markup=False)
errors = Console(stderr=True, markup=False)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Options given before the sub-command (``crmsync --tenant acme customers list``)."""

    tenant: str | None = None


state = State()


def fail(message: str, *, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def require_schema() -> None:
    current, head = db.current_revision(engine()), db.head_revision()
    if current != head:
        fail(
            f"the database is at schema {current or 'empty'}, this crmsync needs {head}: "
            "run `crmsync db upgrade` first"
        )


def current_tenant(session: Session) -> Tenant:
    """The tenant a command acts on. The configured one (``CRMSYNC_TENANT``, else
    ``default``) is made on first use; one named with ``--tenant`` must exist, so a typo
    never makes an empty directory (``crmsync tenants add`` makes one)."""
    if state.tenant is None or state.tenant == get_settings().tenant:
        return get_tenant(session, get_settings().tenant)
    if not _is_text(state.tenant) or "\x00" in state.tenant:
        # No slug holds such text (and no database could be asked for it).
        raise UnknownTenant(
            f"no tenant {state.tenant!r}: a slug is lower-case letters, digits and dashes"
        )
    tenant = session.scalar(select(Tenant).where(Tenant.slug == state.tenant))
    if tenant is None:
        known = ", ".join(session.scalars(select(Tenant.slug).order_by(Tenant.slug))) or "none yet"
        raise UnknownTenant(
            f"no tenant {state.tenant!r} (the tenants: {known}); "
            f"add it with `crmsync tenants add {state.tenant}`"
        )
    return tenant


class UnknownTenant(DirectoryError):
    pass


@contextmanager
def unit_of_work() -> Iterator[tuple[Session, int]]:
    """A session in one transaction and the current tenant's id."""
    require_schema()
    with db.transaction(sessions()) as session:
        tenant = current_tenant(session)
        yield session, tenant.id


LARGEST_INTEGER = 2**31 - 1  # the database's integer columns (ids, versions) hold no more


def _is_text(value: str) -> bool:
    # A shell argument of bytes that are not UTF-8 reaches Python as lone surrogates,
    # which no database (nor the terminal) can encode.
    return not any("\udc80" <= ch <= "\udcff" for ch in value)


def _typed_names(function: Callable[..., Any]) -> dict[str, str]:
    """How the user types each parameter of a command: its option's first name
    (``--set``), or its argument's name (``QUERY``)."""
    try:
        hints = get_type_hints(function, include_extras=True)
    except Exception:  # a hint that does not resolve: fall back to the parameter names
        hints = {}
    names = {}
    for name, parameter in inspect.signature(function).parameters.items():
        metadata = getattr(hints.get(name), "__metadata__", ())
        infos = [m for m in metadata if isinstance(m, ArgumentInfo | OptionInfo)]
        # In Annotated, typer.Option("--set") keeps its first name as the default.
        declared = [
            d
            for info in infos
            for d in (getattr(info, "default", None), *(info.param_decls or ()))
            if isinstance(d, str) and d.startswith("-")
        ]
        if declared:
            names[name] = declared[0]
        elif any(isinstance(info, OptionInfo) for info in infos) or (
            not infos and parameter.default is not inspect.Parameter.empty
        ):
            names[name] = f"--{name.replace('_', '-')}"
        else:
            names[name] = name.upper()
    return names


def _check_arguments(arguments: dict[str, Any], typed: dict[str, str]) -> None:
    """Arguments no column can hold are answered before any SQL sees them (SQLite and
    PostgreSQL would refuse them with an error of their own): a number beyond the integer
    columns (an id like one that does not exist, any other number as invalid), and text
    that is not UTF-8; each names the option."""
    for name, value in arguments.items():
        option = typed.get(name) or f"--{name.replace('_', '-')}"
        texts = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(text, str) and not _is_text(text) for text in texts):
            raise InvalidInput.single(option, "is not valid UTF-8 text")
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        if -LARGEST_INTEGER <= value <= LARGEST_INTEGER:
            continue
        if name.endswith("_id") or name == "connection":
            raise NotFound(name.removesuffix("_id").replace("_", " "), value)
        raise InvalidInput.single(option, f"{value} is out of range")


def handles_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn directory errors into a clear message and a non-zero exit; nothing was written
    because the unit of work rolled back."""

    typed = _typed_names(function)

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            _check_arguments(kwargs, typed)
            return function(*args, **kwargs)
        except InvalidInput as error:
            for field_error in error.errors:
                errors.print(
                    f"[bold red]invalid[/] {escape(field_error.field)}: {escape(field_error.reason)}",
                    markup=True,
                    highlight=False,
                )
            errors.print("nothing was written", style="dim")
            raise typer.Exit(2) from None
        except (NotFound, StaleVersion) as error:
            fail(str(error))
        except DirectoryError as error:
            fail(str(error))

    return wrapper


def parse_assignments(pairs: list[str] | None, option: str) -> dict[str, str]:
    """``["billing_city=Köln", "notes=x"]`` -> a dict; a pair without ``=`` is an error."""
    values: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise InvalidInput.single(option, f"{pair!r} is not FIELD=VALUE")
        values[field.strip().replace("-", "_")] = value
    return values


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
