"""``crmsync users``: who may sign in to the operator console (``crmsync console``).

Each user belongs to one tenant (``--tenant``, as for every command) and has a role:
``viewer`` reads every page, ``operator`` may also act. A password is typed at a prompt
or piped in with ``--password-stdin``; it is never taken as an option, which would leave
it in shell history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from customers.console_users import Role
from worker.cli.common import JsonFlag, console, handles_errors, print_json, state, unit_of_work
from worker.console import users

app = typer.Typer(help="Console users: add, list, remove.", no_args_is_help=True)

TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant", help="The user's tenant (default: the global --tenant, else CRMSYNC_TENANT)."
    ),
]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@app.command("add")
@handles_errors
def add(
    email: Annotated[str, typer.Argument(help="The user's email; they sign in with it.")],
    role: Annotated[Role, typer.Option(help="viewer reads; operator also acts.")] = Role.VIEWER,
    tenant: TenantOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a console user to the tenant (the password is asked for, twice)."""
    if tenant is not None:
        state.tenant = tenant
    password = _read_password(password_stdin)
    with unit_of_work() as (session, tenant_id):
        data = users.user_dict(users.add_user(session, tenant_id, email, password, role.value))
    if as_json:
        print_json(data)
        return
    console.print(f"added {data['email']} ({data['role']})", highlight=False)


@app.command("list")
@handles_errors
def list_(tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """The tenant's console users (never their password hashes)."""
    if tenant is not None:
        state.tenant = tenant
    with unit_of_work() as (session, tenant_id):
        rows = [users.user_dict(user) for user in users.list_users(session, tenant_id)]
    if as_json:
        print_json({"users": rows})
        return
    if not rows:
        console.print("no console users yet (crmsync users add EMAIL --role operator)")
        return
    table = Table(
        "email", "role", "added", "last sign-in", title="console users", title_justify="left"
    )
    for row in rows:
        table.add_row(
            str(row["email"]),
            str(row["role"]),
            str(row["created_at"])[:19],
            str(row["last_login_at"] or "never")[:19],
        )
    console.print(table)


@app.command("remove")
@handles_errors
def remove(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a console user; their open sessions end at their next request."""
    if tenant is not None:
        state.tenant = tenant
    with unit_of_work() as (session, tenant_id):
        users.remove_user(session, tenant_id, email)
    if as_json:
        print_json({"removed": email.strip().lower()})
        return
    console.print(f"removed {email.strip().lower()}", highlight=False)
