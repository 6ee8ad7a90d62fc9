"""``crmsync customers categorize | auto-categorize | set-category | categories``.

Categorization runs as ``categorize_customer`` jobs (retries, failure rows). With a broker
the commands schedule and return; in the embedded mode they run the jobs here and wait,
with a progress bar (see ``worker.cli.background``).

``auto-categorize`` claims uncategorized customers in chunks of at most ``--limit`` (500 at
most): one chunk per call, or every chunk with ``--all``. Each chunk is marked requested in
the transaction that sends its jobs, so running the command again before the jobs ran
schedules the next customers instead of the same ones twice.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from customers import categorize, taxonomy
from customers.models import Customer
from customers.sync_state import SyncFailure
from worker.cli import background
from worker.cli.common import JsonFlag, console, errors, handles_errors, print_json, unit_of_work
from worker.cli.customers.options import app
from worker.database import sessions
from worker.failures import UNRESOLVED
from worker.jobs import enqueue
from worker.jobs.payload import JobCall
from worker.settings import get_settings

MAX_CHUNK = 500


def _send(customer_ids: list[int], *, force: bool) -> dict[str, int]:
    """Send one job per customer; message id -> customer id."""
    if background.embedded():
        background.declare_actors()
    kwargs = {"force": True} if force else {}
    return {
        enqueue.send(enqueue.CATEGORIZE_CUSTOMER, customer_id, **kwargs).message_id: customer_id
        for customer_id in customer_ids
    }


def _run_here(sent: dict[str, int], what: str) -> dict[str, list[int]]:
    """Embedded mode: run the jobs now; clear the request mark of any that did not finish,
    so the next auto-categorize picks them again."""
    run = background.run_here(list(sent), what=what, console=errors)
    unfinished = sorted(sent[m] for m in run.unfinished)
    if unfinished:
        with unit_of_work() as (session, _):
            categorize.mark_requested(session, unfinished, None)
    return {
        "succeeded": sorted(sent[m] for m in run.succeeded),
        "failed": sorted(sent[m] for m in run.failed),
        "unfinished": unfinished,
    }


def _category_of(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "category": customer.category,
        "subcategory": customer.subcategory,
        "label": taxonomy.label(customer.category, customer.subcategory)
        if customer.category
        else None,
        "confidence": customer.category_confidence,
        "source": customer.category_source,
        "categorized_at": customer.categorized_at.isoformat() if customer.categorized_at else None,
    }


def _first_arg(payload: dict[str, Any] | None) -> Any:
    """The first argument of a failure row's job (None when it has none, or names no job)."""
    try:
        args = JobCall.from_payload(payload).args
    except ValueError:
        return None
    return args[0] if args else None


def _failure_of(customer_id: int) -> str | None:
    with sessions()() as session:
        rows = session.scalars(
            select(SyncFailure)
            .where(SyncFailure.direction == "categorize", SyncFailure.status.in_(UNRESOLVED))
            .order_by(SyncFailure.last_failed_at.desc())
        )
        return next(
            (row.message for row in rows if _first_arg(row.payload) == customer_id),
            None,
        )


@app.command("categorize")
@handles_errors
def categorize_one(customer_id: int, as_json: JsonFlag = False) -> None:
    """Categorize one customer now (again if it has a category, unless set by hand)."""
    with unit_of_work() as (session, tenant_id):
        categorize.request_one(session, tenant_id, customer_id)
        sent = _send([customer_id], force=True)
    if not background.embedded():
        if as_json:
            print_json({"scheduled": [customer_id]})
        else:
            console.print(f"customer {customer_id}: categorization scheduled")
        return
    outcome = _run_here(sent, f"categorizing customer {customer_id}")
    with unit_of_work() as (session, tenant_id):
        data = _category_of(session.get_one(Customer, customer_id))
    data["failure"] = _failure_of(customer_id) if outcome["failed"] else None
    if as_json:
        print_json(data)
    elif data["failure"]:
        errors.print(
            f"customer {customer_id}: categorization failed: {data['failure']}", highlight=False
        )
    elif outcome["unfinished"]:
        errors.print(f"customer {customer_id}: categorization did not finish", highlight=False)
    else:
        console.print(
            f"customer {customer_id}: {data['label']} "
            f"(confidence {data['confidence']:.2f}, {data['source']})",
            highlight=False,
        )
    if data["failure"] or outcome["unfinished"]:
        raise typer.Exit(1)


@app.command("auto-categorize")
@handles_errors
def auto_categorize(
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_CHUNK, help="Customers per chunk (at most 500).")
    ] = MAX_CHUNK,
    all_chunks: Annotated[
        bool, typer.Option("--all", help="Keep going, chunk after chunk, until none is left.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Schedule categorization of uncategorized customers, oldest first.

    One chunk per call, or all of them with --all. Safe to run again: customers with a
    pending request are skipped."""
    reschedule_after_s = get_settings().categorize_reschedule_after_s
    report: dict[str, Any] = {"scheduled": 0, "chunks": 0, "customer_ids": []}
    if background.embedded():
        report.update(succeeded=[], failed=[], unfinished=[])
    while True:
        with unit_of_work() as (session, tenant_id):
            claimed = categorize.claim_uncategorized(
                session, tenant_id, limit=limit, reschedule_after_s=reschedule_after_s
            )
            sent = _send(claimed, force=False)
        if not claimed:
            break
        report["scheduled"] += len(claimed)
        report["chunks"] += 1
        report["customer_ids"] += claimed
        if background.embedded():
            for key, ids in _run_here(sent, f"categorizing {len(claimed)} customers").items():
                report[key] += ids
        # Failed customers keep their request mark, so the next claim never repeats them.
        if not all_chunks or report.get("unfinished"):
            break
    with unit_of_work() as (session, tenant_id):
        left = categorize.backlog(session, tenant_id, reschedule_after_s=reschedule_after_s)
    report["uncategorized"] = left.uncategorized
    report["unscheduled"] = left.unclaimed
    if as_json:
        print_json(report)
        return
    _print_auto_report(report)


def _print_auto_report(report: dict[str, Any]) -> None:
    console.print(
        f"scheduled {report['scheduled']} customer(s) for categorization "
        f"in {report['chunks']} chunk(s)"
    )
    if "succeeded" in report:
        console.print(
            f"ran here: {len(report['succeeded'])} categorized, {len(report['failed'])} failed"
            + (f", {len(report['unfinished'])} did not finish" if report["unfinished"] else "")
        )
        if report["failed"]:
            console.print(
                "see them with `crmsync failures list` (direction categorize)", style="dim"
            )
    pending = report["uncategorized"] - report["unscheduled"]
    if report["unscheduled"]:
        console.print(
            f"{report['unscheduled']} uncategorized customer(s) not scheduled yet: run again"
        )
    elif pending and not background.embedded():
        console.print(f"{pending} customer(s) waiting for their categorization job")
    else:
        console.print(f"{report['uncategorized']} customer(s) left without a category")


@app.command("set-category")
@handles_errors
def set_category(
    customer_id: int,
    category: Annotated[
        str, typer.Argument(help="A category slug, or category/subcategory (see `categories`).")
    ],
    subcategory: Annotated[str | None, typer.Argument(help="A subcategory slug of it.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the category by hand. A manual category is never overwritten by a categorizer."""
    if subcategory is None and "/" in category:
        category, subcategory = category.split("/", 1)  # as `categories` lists them
    with unit_of_work() as (session, tenant_id):
        customer = categorize.set_category(session, tenant_id, customer_id, category, subcategory)
        data = _category_of(customer)
    if as_json:
        print_json(data)
    else:
        console.print(f"customer {customer_id}: {data['label']} (manual)", highlight=False)


@app.command("categories")
def categories(as_json: JsonFlag = False) -> None:
    """The category taxonomy: the slugs set-category and the categorizers use."""
    if as_json:
        print_json(taxonomy.labels())
        return
    table = Table("slug", "label", title="categories", title_justify="left")
    for slug, text in taxonomy.labels().items():
        table.add_row(slug, text, style="bold" if "/" not in slug else None)
    console.print(table)
