"""``crmsync db``: the database schema."""

from __future__ import annotations

import typer
from sqlalchemy.engine import make_url

from customers import db
from worker.cli.common import JsonFlag, console, engine, print_json
from worker.settings import get_settings

app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


def _where() -> str:
    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Schema revision to upgrade to."),
    as_json: JsonFlag = False,
) -> None:
    """Apply the migrations (safe to run again: an up-to-date database is left alone)."""
    before = db.current_revision(engine())
    db.upgrade(engine(), revision)
    after = db.current_revision(engine())
    if as_json:
        print_json({"before": before, "after": after, "database": _where()})
    elif before == after:
        console.print(f"schema already at {after} in {_where()}")
    else:
        console.print(f"schema upgraded {before or 'empty'} -> {after} in {_where()}")


@app.command()
def current(as_json: JsonFlag = False) -> None:
    """Show the schema revision of the database and the newest one this crmsync has."""
    if as_json:
        print_json({"database": db.current_revision(engine()), "newest": db.head_revision()})
        return
    console.print(
        f"database: {db.current_revision(engine()) or 'empty'}  newest: {db.head_revision()}"
    )
