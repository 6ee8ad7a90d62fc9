"""Deciding on CRM records the sync held back as likely duplicates.

A held record is linked to the customer a person picked, created as a new customer, or
dismissed. Linking and creating only make the link; the caller then syncs the record
(``sync_records``), which merges its current state the usual way.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers import service
from customers.errors import NotFound, Refused
from customers.models import Customer
from customers.sync_state import DuplicateReview, ExternalLink
from customers.types import utcnow
from mappings.engine import new_customer_values
from worker.locks import lock_connection

OPEN = "open"


def open_reviews(session: Session, tenant_id: int) -> list[DuplicateReview]:
    return list(
        session.scalars(
            select(DuplicateReview)
            .where(DuplicateReview.tenant_id == tenant_id, DuplicateReview.status == OPEN)
            .order_by(DuplicateReview.id)
        )
    )


def _review(session: Session, tenant_id: int, review_id: int) -> DuplicateReview:
    review = session.get(DuplicateReview, review_id)
    if review is None or review.tenant_id != tenant_id:
        raise NotFound("held record", review_id)
    # A link is written: the connection's writer lock and the tenant's guard, in their
    # order, before the checks below read what is linked.
    if review.connection_id is not None:
        lock_connection(session, review.connection_id)
    service.guard_tenant(session, tenant_id)
    session.refresh(review)
    if review.status != OPEN:
        raise Refused(f"held record {review_id} was already decided ({review.status})")
    return review


def _close(review: DuplicateReview, status: str, resolution: str) -> None:
    review.status, review.resolution, review.resolved_at = status, resolution, utcnow()


def _make_link(session: Session, review: DuplicateReview, customer_id: int) -> None:
    taken = session.scalar(
        select(ExternalLink).where(
            ExternalLink.connection_id == review.connection_id,
            ExternalLink.object_type == review.object_type,
            (ExternalLink.local_id == customer_id)
            | (ExternalLink.external_id == review.external_id),
        )
    )
    if taken is not None:
        raise Refused(
            f"customer {taken.local_id} is already linked to {review.object_type} {taken.external_id} "
            "of this connection"
        )
    session.add(
        ExternalLink(
            connection_id=review.connection_id,
            object_type=review.object_type,
            external_id=review.external_id,
            local_type="customer",
            local_id=customer_id,
            base={},
        )
    )


def link(session: Session, tenant_id: int, review_id: int, customer_id: int) -> DuplicateReview:
    """The held CRM record is this customer."""
    review = _review(session, tenant_id, review_id)
    customer = service.get_customer(session, tenant_id, customer_id)
    if customer.deleted_at is not None:
        raise Refused(f"customer {customer_id} is deleted")
    _make_link(session, review, customer_id)
    _close(review, "linked", f"linked to customer {customer_id}")
    session.flush()
    return review


def create(session: Session, tenant_id: int, review_id: int) -> Customer:
    """The held CRM record is a business of its own: create it from the values it had."""
    review = _review(session, tenant_id, review_id)
    fields, tags = new_customer_values(review.values)
    customer = service.create_customer(
        session, tenant_id, fields, origin_connection_id=review.connection_id, tags=tags
    )
    if review.values.get("archived"):  # archived in the CRM: so is the new customer
        service.set_archived(
            session,
            tenant_id,
            customer.id,
            archived=True,
            origin_connection_id=review.connection_id,
        )
    _make_link(session, review, customer.id)
    _close(review, "created", f"created as customer {customer.id}")
    session.flush()
    return customer


def dismiss(session: Session, tenant_id: int, review_id: int, reason: str) -> DuplicateReview:
    review = _review(session, tenant_id, review_id)
    _close(review, "dismissed", reason)
    session.flush()
    return review
