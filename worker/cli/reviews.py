"""``crmsync reviews``: CRM records held back as likely duplicates of existing customers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from worker.cli.common import JsonFlag, console, handles_errors, print_json, unit_of_work
from worker.jobs import enqueue
from worker.sync import reviews

app = typer.Typer(
    help="Decide on CRM records held back as likely duplicates.", no_args_is_help=True
)


def _review_dict(review: reviews.DuplicateReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "connection_id": review.connection_id,
        "object_type": review.object_type,
        "external_id": review.external_id,
        "status": review.status,
        "resolution": review.resolution,
    }


@app.command("list")
@handles_errors
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Held CRM records, with the customers they may duplicate and why."""
    with unit_of_work() as (session, tenant_id):
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "connection_id": r.connection_id,
                "object_type": r.object_type,
                "external_id": r.external_id,
                "name": r.values.get("name"),
                "domain": r.values.get("domain"),
                "candidates": r.candidates,
            }
            for r in reviews.open_reviews(session, tenant_id)
        ]
    if as_json:
        print_json({"held": rows})
        return
    if not rows:
        console.print("no CRM records are held for review")
        return
    table = Table(
        "id",
        "connection",
        "CRM record",
        "name",
        "may duplicate",
        title=f"{len(rows)} held",
        title_justify="left",
    )
    for row in rows:
        candidates = "; ".join(
            f"customer {c['customer_id']} ({', '.join(c['reasons'])})" for c in row["candidates"]
        )
        record = f"{row['object_type']} {row['external_id']}"
        table.add_row(
            str(row["id"]),
            str(row["connection_id"]),
            record,
            str(row["name"] or ""),
            candidates or "-",
        )
    console.print(table)


def _sync(connection_id: int | None, object_type: str, external_id: str) -> None:
    """Bring the record's current state in (now, in the embedded mode)."""
    from worker.embedded import jobs_run_here

    if connection_id is None:
        return
    with jobs_run_here():
        enqueue.send(enqueue.SYNC_RECORDS, connection_id, object_type, [external_id])


@app.command()
@handles_errors
def link(review_id: int, customer_id: int, as_json: JsonFlag = False) -> None:
    """The held CRM record is this existing customer: link them and sync it."""
    with unit_of_work() as (session, tenant_id):
        review = reviews.link(session, tenant_id, review_id, customer_id)
        target = (review.connection_id, review.object_type, review.external_id)
        data = _review_dict(review)
    _sync(*target)
    if as_json:
        print_json({**data, "customer_id": customer_id})
        return
    console.print(f"held record {review_id}: linked to customer {customer_id}")


@app.command()
@handles_errors
def create(review_id: int, as_json: JsonFlag = False) -> None:
    """The held CRM record is a new business: create the customer and sync it."""
    with unit_of_work() as (session, tenant_id):
        customer = reviews.create(session, tenant_id, review_id)
        review = session.get(reviews.DuplicateReview, review_id)
        assert review is not None
        target = (review.connection_id, review.object_type, review.external_id)
        customer_id = customer.id
        data = _review_dict(review)
    _sync(*target)
    enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id)
    if as_json:
        print_json({**data, "customer_id": customer_id})
        return
    console.print(f"held record {review_id}: created customer {customer_id}")


@app.command()
@handles_errors
def dismiss(
    review_id: int,
    reason: Annotated[str, typer.Option(help="Why it is ignored.")],
    as_json: JsonFlag = False,
) -> None:
    """Ignore a held CRM record (it stays unlinked)."""
    with unit_of_work() as (session, tenant_id):
        data = _review_dict(reviews.dismiss(session, tenant_id, review_id, reason))
    if as_json:
        print_json(data)
        return
    console.print(f"held record {review_id}: dismissed")
