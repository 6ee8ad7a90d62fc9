"""``crmsync customers duplicates | check``: review likely duplicates, check before adding.

Both use ``customers.duplicates``: the same tax id (spacing and punctuation ignored), email
or company domain is a *sure* match; a similar name (legal forms ignored, so "ACME Corp."
and "Acme Corporation" match) is a *likely* one. Nothing here changes the directory:
merging or removing a duplicate is a separate, deliberate step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.duplicates import Candidate, DuplicateIndex, Keys, find_duplicates
from customers.fields import clean_customer
from customers.models import Customer
from customers.service import get_customer
from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work
from worker.cli.customers.options import app
from worker.sync.reviews import open_reviews

SURE_REASONS = ("same tax id", "same email", "same domain")
PAGE = 100


@dataclass(frozen=True)
class Pair:
    first: int
    second: int
    score: float
    reasons: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "sure" if any(r in SURE_REASONS for r in self.reasons) else "likely"


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "tax_id": row.tax_id,
        "domain": row.domain,
    }


def find_pairs(session: Session, tenant_id: int, customer_id: int | None) -> list[Pair]:
    """Every pair of live customers that look like one business (each pair once), best
    first; only the pairs of ``customer_id`` when given."""
    index = DuplicateIndex.load(session, tenant_id)
    query = select(Customer.id, Customer.name, Customer.email, Customer.domain, Customer.tax_id)
    query = query.where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    if customer_id is not None:
        query = query.where(Customer.id == customer_id)
    pairs: dict[tuple[int, int], Pair] = {}
    rows = session.execute(query.order_by(Customer.id)).all()
    for number, row in enumerate(rows):
        if number % PAGE == 0:  # the keys of the next page of customers, read together
            page = rows[number : number + PAGE]
            index.prefetch([Keys(r.name, r.email, r.domain, r.tax_id) for r in page])
        check = index.check(
            name=row.name, email=row.email, domain=row.domain, tax_id=row.tax_id, exclude=[row.id]
        )
        candidates = ([check.sure] if check.sure else []) + list(check.likely)
        for candidate in candidates:
            key = (min(row.id, candidate.customer_id), max(row.id, candidate.customer_id))
            pairs.setdefault(key, Pair(*key, candidate.score, candidate.reasons))
    return sorted(pairs.values(), key=lambda p: (-p.score, p.first, p.second))


def _rows(session: Session, ids: set[int]) -> dict[int, Any]:
    query = select(Customer.id, Customer.name, Customer.email, Customer.domain, Customer.tax_id)
    return {row.id: row for row in session.execute(query.where(Customer.id.in_(ids)))}


@app.command("duplicates")
@handles_errors
def duplicates(
    customer: Annotated[
        int | None, typer.Option("--customer", help="Only the duplicates of this customer.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List pairs of customers that look like the same business, with score and reasons."""
    with unit_of_work() as (session, tenant_id):
        if customer is not None:
            get_customer(session, tenant_id, customer)
        pairs = find_pairs(session, tenant_id, customer)
        rows = _rows(session, {i for p in pairs for i in (p.first, p.second)})
        held = [
            {
                "review": r.id,
                "connection_id": r.connection_id,
                "crm_record": f"{r.object_type} {r.external_id}",
                "name": r.values.get("name"),
                "candidates": r.candidates,
            }
            for r in open_reviews(session, tenant_id)
            if customer is None or any(c["customer_id"] == customer for c in r.candidates)
        ]
    data: list[dict[str, Any]] = [
        {
            "kind": p.kind,
            "score": p.score,
            "reasons": list(p.reasons),
            "customers": [_summary(rows[p.first]), _summary(rows[p.second])],
        }
        for p in pairs
    ]
    if as_json:
        print_json({"pairs": data, "held_back": held})
        return
    if held:
        console.print(
            f"{len(held)} CRM record(s) held back as likely duplicates: see `crmsync reviews list`"
        )
    if not data:
        console.print("no duplicates, sure or likely")
        return
    table = Table(
        "kind",
        "score",
        "customer",
        "duplicate of",
        "reasons",
        title=duplicates_title(data),
        title_justify="left",
    )
    for item in data:
        first, second = item["customers"]
        table.add_row(
            item["kind"],
            f"{item['score']:.0f}",
            _label(first),
            _label(second),
            ", ".join(item["reasons"]),
        )
    console.print(table)


def duplicates_title(pairs: list[dict[str, Any]]) -> str:
    """``3 pairs: 1 sure, 2 likely`` (a sure pair is not counted as likely)."""
    sure = sum(1 for pair in pairs if pair["kind"] == "sure")
    total = len(pairs)
    return f"{total} pair{'s' * (total != 1)} of duplicates: {sure} sure, {total - sure} likely"


def _label(customer: dict[str, Any]) -> str:
    return f"{customer['id']} {customer['name']}" + (
        f" <{customer['email']}>" if customer["email"] else ""
    )


def _candidate(session: Session, tenant_id: int, candidate: Candidate) -> dict[str, Any]:
    customer = get_customer(session, tenant_id, candidate.customer_id)
    return {**_summary(customer), "score": candidate.score, "reasons": list(candidate.reasons)}


@app.command("check")
@handles_errors
def check(
    name: Annotated[str, typer.Option(help="Name of the customer you are about to add.")],
    email: Annotated[str | None, typer.Option()] = None,
    tax_id: Annotated[str | None, typer.Option(help="Tax id / VAT number.")] = None,
    domain: Annotated[str | None, typer.Option(help="Company web domain, e.g. acme.com.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check for a duplicate before adding a customer (exit code 1 when one exists).

    Exit code 0: none found; 1: a sure or likely duplicate exists (listed with reasons)."""
    # The directory's own rules first: a bad email is an error (exit 2), not "no duplicate".
    given = {"name": name, "email": email, "tax_id": tax_id, "domain": domain}
    cleaned = clean_customer({key: value for key, value in given.items() if value is not None})
    with unit_of_work() as (session, tenant_id):
        found = find_duplicates(
            session,
            tenant_id,
            name=cleaned.get("name"),
            email=cleaned.get("email"),
            domain=domain and cleaned.get("domain"),
            tax_id=cleaned.get("tax_id"),
        )
        sure = _candidate(session, tenant_id, found.sure) if found.sure else None
        likely = [_candidate(session, tenant_id, c) for c in found.likely]
    if as_json:
        print_json({"found": found.found, "sure": sure, "likely": likely})
    elif not found.found:
        console.print(f"no duplicate of {name!r} found", highlight=False)
    else:
        for kind, item in [("sure", sure)] * bool(sure) + [("likely", c) for c in likely]:
            assert item is not None
            console.print(
                f"{kind} duplicate: customer {_label(item)} "
                f"(score {item['score']:.0f}: {', '.join(item['reasons'])})",
                highlight=False,
            )
    if found.found:
        raise typer.Exit(1)
