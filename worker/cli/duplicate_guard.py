"""The duplicate check of ``customers add`` and ``update``: refuse a sure one, warn of a likely one.

A sure duplicate (same tax id, email or company domain as exactly one live customer) is
refused, naming that customer and the keys that matched, unless ``--allow-duplicate`` is
given; the command's unit of work rolls back, so nothing is written. A likely one (a
similar name) is a warning on standard error and the command goes on. Standard output
is left to the command, so its ``--json`` stays one JSON document, also when refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.duplicates import Candidate, DuplicateCheck, refusal
from customers.errors import SureDuplicate
from customers.models import Customer
from worker.cli.common import errors, print_json

AllowDuplicate = Annotated[
    bool,
    typer.Option(
        "--allow-duplicate",
        help="Write it even when another customer is surely the same business "
        "(same tax id or company domain); a taken email is still refused.",
    ),
]


def refuse_or_warn(session: Session, check: DuplicateCheck, *, allow: bool) -> None:
    """Raise :class:`SureDuplicate` for a sure duplicate unless allowed; warn of the rest."""
    if check.sure is not None and not allow:
        raise refusal(session, check.sure)
    candidates = ([check.sure] if check.sure else []) + list(check.likely)
    names = _names(session, candidates)
    for candidate in candidates:
        kind = "sure" if candidate is check.sure else "likely"
        errors.print(
            f"[yellow]warning:[/] {kind} duplicate of customer {candidate.customer_id} "
            + escape(f"{names.get(candidate.customer_id, '')!r} ({', '.join(candidate.reasons)})"),
            markup=True,
            highlight=False,
        )


def _names(session: Session, candidates: list[Candidate]) -> dict[int, str]:
    ids = [candidate.customer_id for candidate in candidates]
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {row.id: row.name for row in rows}


@contextmanager
def reported_refusal(*, as_json: bool) -> Iterator[None]:
    """Report a refused sure duplicate on standard error (and, with --json, as a JSON
    document on standard output) and exit with code 1."""
    try:
        yield
    except SureDuplicate as error:
        if as_json:
            duplicate_of = {
                "id": error.customer_id,
                "name": error.name,
                "reasons": list(error.reasons),
            }
            print_json(
                {"refused": "sure duplicate", "written": False, "duplicate_of": duplicate_of}
            )
        errors.print(
            f"[bold red]refused:[/] {escape(str(error))}; --allow-duplicate writes it anyway",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(1) from None
