"""The directory's duplicate index, kept per tenant and process and followed by the outbox.

Every page of new CRM records is checked against what identifies each live customer (tax
id, email, domain, name). Loading that for every page of 100 records cost more than the
page itself once the directory held a few thousand customers, so the index is loaded once
and then brought up to date from the outbox, which every change to a customer writes in
its own transaction: the customers named by outbox rows past the last one read are read
again. Outbox ids are taken when a row is written, not when it commits, so an id below the
newest one read may still be missing; such gaps are read again on later pages until they
appear, or until ``GAP_GIVE_UP_S`` has passed (a rolled-back transaction leaves a gap
forever).

A page sees the shared index through an overlay of its own (``DuplicateIndex.over``), so
what it creates is found by the rest of the page but never by anyone else before it
commits; afterwards the outbox brings it in like any other change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from customers.duplicates import DuplicateIndex
from customers.models import Customer, OutboxEntry

GAP_GIVE_UP_S = 60.0
CHUNK = 500


@dataclass
class _Followed:
    index: DuplicateIndex
    last_id: int  # the newest outbox id read
    gaps: dict[int, float] = field(default_factory=dict)  # outbox id -> when first missed
    lock: threading.Lock = field(default_factory=threading.Lock)


_followed: dict[tuple[str, int], _Followed] = {}
_followed_lock = threading.Lock()


def _newest_outbox_id(session: Session) -> int:
    return session.scalar(select(func.max(OutboxEntry.id))) or 0


def _load(session: Session, tenant_id: int) -> _Followed:
    last_id = _newest_outbox_id(session)
    return _Followed(DuplicateIndex.load(session, tenant_id), last_id)


def _catch_up(session: Session, tenant_id: int, followed: _Followed) -> None:
    columns = (
        OutboxEntry.id,
        OutboxEntry.tenant_id,
        OutboxEntry.entity_type,
        OutboxEntry.entity_id,
    )
    # Every tenant's ids: they share one sequence, so another tenant's row is no gap.
    past = session.execute(select(*columns).where(OutboxEntry.id > followed.last_id)).all()
    filled = (
        session.execute(select(*columns).where(OutboxEntry.id.in_(list(followed.gaps)))).all()
        if followed.gaps
        else []
    )
    present = {row.id for row in past} | {row.id for row in filled}
    newest = max(present, default=followed.last_id)
    now = time.monotonic()
    for outbox_id in range(followed.last_id + 1, newest):
        if outbox_id not in present:
            followed.gaps.setdefault(outbox_id, now)
    for outbox_id, missed_at in list(followed.gaps.items()):
        if outbox_id in present or now - missed_at > GAP_GIVE_UP_S:
            del followed.gaps[outbox_id]
    followed.last_id = max(newest, followed.last_id)
    changed = sorted(
        {
            row.entity_id
            for row in [*past, *filled]
            if row.tenant_id == tenant_id and row.entity_type == "customer"
        }
    )
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        found = session.execute(
            select(
                Customer.id,
                Customer.name,
                Customer.email,
                Customer.domain,
                Customer.tax_id,
                Customer.deleted_at,
            ).where(Customer.id.in_(chunk))
        ).all()
        for customer_id in chunk:
            followed.index.discard(customer_id)
        for row in found:
            if row.deleted_at is None:
                followed.index.add(
                    row.id, name=row.name, email=row.email, domain=row.domain, tax_id=row.tax_id
                )


def directory_index(session: Session, tenant_id: int) -> DuplicateIndex:
    """This page's view of the tenant's live customers: the shared index, brought up to
    date, under an overlay of the page's own."""
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), tenant_id)
    with _followed_lock:
        followed = _followed.get(key)
        if followed is None or _newest_outbox_id(session) < followed.last_id:
            # First use, or a database made anew under the same name.
            followed = _followed[key] = _load(session, tenant_id)
    with followed.lock:
        _catch_up(session, tenant_id, followed)
    return followed.index.over()
