"""``crmsync tenants``: the businesses whose directories this crmsync keeps.

Every command acts on one tenant: ``--tenant SLUG``, else ``CRMSYNC_TENANT``, else
``default``. The configured tenant is made on first use; any other must be added here
first, so a mistyped ``--tenant`` is refused instead of starting an empty directory.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from customers import db
from customers.errors import InvalidInput, Refused
from customers.models import Customer, Tenant
from customers.service import get_tenant
from worker.cli.common import (
    JsonFlag,
    console,
    handles_errors,
    print_json,
    require_schema,
)
from worker.database import sessions
from worker.settings import get_settings

app = typer.Typer(help="Add, list and change tenants (one directory each).", no_args_is_help=True)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@app.command("add")
@handles_errors
def add(
    slug: Annotated[str, typer.Argument(help="Lower-case letters, digits and dashes.")],
    name: Annotated[str | None, typer.Option(help="A name to show (default: the slug).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a tenant: an empty directory, with its own connections."""
    if not SLUG.match(slug):
        raise InvalidInput.single(
            "slug", f"{slug!r} is not 1-64 lower-case letters, digits and dashes"
        )
    display = (name or slug).strip()
    if not display or len(display) > 200:
        raise InvalidInput.single("--name", "must be 1-200 characters")
    require_schema()
    with db.transaction(sessions()) as session:
        if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            raise Refused(f"tenant {slug!r} exists already")
        tenant = Tenant(slug=slug, name=display)
        session.add(tenant)
        session.flush()
        data = {"id": tenant.id, "slug": slug, "name": display}
    if as_json:
        print_json(data)
        return
    console.print(f"added tenant {slug} ({display}); use it with --tenant {slug}", highlight=False)


@app.command("list")
@handles_errors
def list_(as_json: JsonFlag = False) -> None:
    """Every tenant, with how many live customers its directory holds."""
    require_schema()
    with sessions()() as session:
        live = (
            select(func.count(Customer.id))
            .where(Customer.tenant_id == Tenant.id, Customer.deleted_at.is_(None))
            .scalar_subquery()
        )
        rows = [
            {
                "id": row.id,
                "slug": row.slug,
                "name": row.name,
                "customers": row.customers,
                "require_billing_address": row.require_billing_address,
            }
            for row in session.execute(
                select(
                    Tenant.id,
                    Tenant.slug,
                    Tenant.name,
                    live.label("customers"),
                    Tenant.require_billing_address,
                ).order_by(Tenant.slug)
            )
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("slug", "name", "customers", title="tenants", title_justify="left")
    for row in rows:
        table.add_row(row["slug"], row["name"], str(row["customers"]))
    console.print(table)


@app.command("set")
@handles_errors
def set_(
    slug: Annotated[str, typer.Argument(help="The tenant to change.")],
    require_billing_address: Annotated[
        bool | None,
        typer.Option(
            "--require-billing-address/--no-require-billing-address",
            help="Whether customers added by hand or imported need a billing street, city "
            "and country (on for a new tenant). CRM-created customers never do; those "
            "without one are listed by `customers list --incomplete`.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's settings."""
    require_schema()
    with db.transaction(sessions()) as session:
        # The configured tenant is made on first use, here as by every other command.
        tenant = get_tenant(session, slug, create=slug == get_settings().tenant)
        if require_billing_address is not None:
            tenant.require_billing_address = require_billing_address
        data = {
            "id": tenant.id,
            "slug": tenant.slug,
            "name": tenant.name,
            "require_billing_address": tenant.require_billing_address,
        }
    if as_json:
        print_json(data)
        return
    required = "required" if data["require_billing_address"] else "not required"
    console.print(f"tenant {slug}: billing address {required}", highlight=False)
