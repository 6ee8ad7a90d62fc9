"""Review queue: CRM records held back as likely duplicates, side by side with the
customers they may be; link one, create a new customer, or dismiss."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from customers.errors import InvalidInput, NotFound
from customers.models import Customer
from customers.sync_state import DuplicateReview
from worker.console.web import action, console_of, done, in_tenant, int_param, page, path_id, render
from worker.jobs import enqueue
from worker.sync import reviews

# The customer fields shown beside a held record's values.
COMPARED = (
    "name",
    "email",
    "domain",
    "website",
    "phone",
    "tax_id",
    "billing_city",
    "billing_country",
)


def _review(session: Session, tenant_id: int, review_id: int) -> DuplicateReview:
    review = session.get(DuplicateReview, review_id)
    if review is None or review.tenant_id != tenant_id:
        raise NotFound("held record", review_id)
    return review


@page
async def index(request: Request) -> Response:
    def load(session: Session, tenant_id: int) -> list[dict[str, Any]]:
        return [
            {
                "id": r.id,
                "connection_id": r.connection_id,
                "object_type": r.object_type,
                "external_id": r.external_id,
                "name": r.values.get("name"),
                "domain": r.values.get("domain"),
                "candidates": r.candidates,
                "created_at": r.created_at,
            }
            for r in reviews.open_reviews(session, tenant_id)
        ]

    return render(request, "reviews.html", held=await in_tenant(request, load))


@page
async def detail(request: Request) -> Response:
    review_id = path_id(request)

    def load(session: Session, tenant_id: int) -> dict[str, Any]:
        review = _review(session, tenant_id, review_id)
        ids = [int(c["customer_id"]) for c in review.candidates if "customer_id" in c]
        customers = {
            c.id: c
            for c in session.scalars(
                select(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(ids))
            )
        }
        fields = list(COMPARED) + sorted(
            key for key in review.values if key not in COMPARED and not key.startswith("custom.")
        )
        candidates = [
            {
                **c,
                "customer": customers[int(c["customer_id"])],
                "fields": {f: getattr(customers[int(c["customer_id"])], f, None) for f in fields},
            }
            for c in review.candidates
            if int(c.get("customer_id", 0)) in customers
        ]
        return {"review": review, "candidates": candidates, "fields": fields}

    data = await in_tenant(request, load)
    return render(request, "review.html", **data)


def _sync_record(request: Request, review: DuplicateReview) -> None:
    """Bring the record's current state in, as ``crmsync reviews link|create`` does."""
    if review.connection_id is not None:
        console_of(request).jobs.send(
            enqueue.SYNC_RECORDS, review.connection_id, review.object_type, [review.external_id]
        )


@action()
async def link(request: Request, form: FormData) -> Response:
    review_id = path_id(request)
    customer_id = int_param(str(form.get("customer_id") or ""), "customer_id")
    if customer_id is None:
        raise InvalidInput.single("customer_id", "choose the customer it is")
    review = await in_tenant(request, lambda s, t: reviews.link(s, t, review_id, customer_id))
    _sync_record(request, review)
    return done(request, f"held record {review_id}: linked to customer {customer_id}", "/reviews")


@action()
async def create(request: Request, form: FormData) -> Response:
    review_id = path_id(request)

    def make(session: Session, tenant_id: int) -> tuple[int, DuplicateReview]:
        customer = reviews.create(session, tenant_id, review_id)
        return customer.id, _review(session, tenant_id, review_id)

    customer_id, review = await in_tenant(request, make)
    _sync_record(request, review)
    console_of(request).jobs.send(enqueue.CATEGORIZE_CUSTOMER, customer_id)
    return done(request, f"held record {review_id}: created customer {customer_id}", "/reviews")


@action()
async def dismiss(request: Request, form: FormData) -> Response:
    review_id = path_id(request)
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise InvalidInput.single("reason", "say why the held record is ignored")
    await in_tenant(request, lambda s, t: reviews.dismiss(s, t, review_id, reason[:2000]))
    return done(request, f"held record {review_id}: dismissed", "/reviews")


routes = [
    Route("/reviews", index),
    Route("/reviews/{id:int}", detail),
    Route("/reviews/{id:int}/link", link, methods=["POST"]),
    Route("/reviews/{id:int}/create", create, methods=["POST"]),
    Route("/reviews/{id:int}/dismiss", dismiss, methods=["POST"]),
]
