"""Inbound: CRM records into the directory, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import RemoteRecord
from customers import db, service
from customers.custom_properties import CustomChanges
from customers.errors import Refused
from customers.models import Contact, Customer, OutboxEntry, Tenant
from customers.sync_state import (
    Connection,
    DuplicateReview,
    ExternalLink,
    SyncConflict,
    SyncFailure,
)
from worker.sync import reviews
from worker.sync.inbound import apply_page
from worker.sync.target import SyncTarget

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def company(
    external_id: str, minutes: int = 0, local_id: int | None = None, **properties: Any
) -> RemoteRecord:
    props = {
        "name": "Acme Corp",
        "domain": "acme.com",
        "phone": "+49 30 1234567",
        "country": "Germany",
        **properties,
    }
    modified = T0 + timedelta(minutes=minutes)
    return RemoteRecord(
        "company", external_id, props, modified, local_id=str(local_id) if local_id else None
    )


def apply(
    sessions: sessionmaker[Session], connection_id: int, object_type: str, *records: RemoteRecord
) -> Any:
    with db.transaction(sessions) as session:
        target = SyncTarget.load(session, connection_id)
        return apply_page(session, target, object_type, list(records))


def links(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {link.external_id: link.local_id for link in session.scalars(select(ExternalLink))}


def test_new_company_becomes_one_customer_and_a_rerun_creates_nothing(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    result = apply(sessions, connection_id, "company", company("101"))
    assert result.counts["created"] == 1 and len(result.created_customers) == 1
    assert result.needs_push  # our id must be written to the CRM record
    again = apply(sessions, connection_id, "company", company("101"))
    assert again.counts["stale"] == 1 and not again.created_customers
    with sessions() as session:
        [customer] = session.scalars(select(Customer))
        assert (customer.name, customer.domain, customer.phone, customer.billing_country) == (
            "Acme Corp", "acme.com", "+49301234567", "DE",
        )  # fmt: skip
        assert customer.email is None and not customer.can_be_invoiced
        [outbox] = session.scalars(select(OutboxEntry))
        assert outbox.origin_connection_id == connection_id
    assert links(sessions) == {"101": customer.id}


def test_a_sure_duplicate_links_instead_of_creating(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    with db.transaction(sessions) as session:
        local = service.create_customer(
            session,
            tenant_id,
            {"name": "ACME Corporation", "email": "ap@acme.com", "website": "https://acme.com"},
        )
    result = apply(sessions, connection_id, "company", company("101"))
    assert (result.counts["linked"], result.counts["created"]) == (1, 0)
    assert links(sessions) == {"101": local.id}
    with sessions() as session:
        # First sync: the CRM's name differs from ours; two_way with no base is a conflict
        # the CRM wins (no local change time is newer than the CRM's modified time).
        customer = session.get(Customer, local.id)
        assert customer is not None and customer.phone == "+49301234567"


def test_a_likely_duplicate_is_held_for_review(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    with db.transaction(sessions) as session:
        local = service.create_customer(
            session, tenant_id, {"name": "Acme Corporation", "email": "ap@acme.io"}
        )
    result = apply(sessions, connection_id, "company", company("101", domain="acme-corp.de"))
    assert result.counts["held"] == 1
    assert links(sessions) == {}
    with sessions() as session:
        [review] = session.scalars(select(DuplicateReview))
        assert review.external_id == "101" and review.candidates[0]["customer_id"] == local.id
        assert review.values["name"] == "Acme Corp"
        assert session.scalar(select(Customer).where(Customer.id != local.id)) is None


def test_crm_edit_updates_local_and_its_echo_writes_nothing(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    edited = apply(sessions, connection_id, "company", company("101", minutes=5, city="Köln"))
    assert edited.counts["updated"] == 1
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.billing_city == "Köln"
        outbox_before = session.scalar(select(OutboxEntry.id).order_by(OutboxEntry.id.desc()))
    echo = apply(
        sessions,
        connection_id,
        "company",
        company("101", minutes=6, local_id=customer.id, city="Köln"),
    )
    assert echo.counts["echo"] == 1 and not echo.needs_push
    with sessions() as session:
        assert (
            session.scalar(select(OutboxEntry.id).order_by(OutboxEntry.id.desc())) == outbox_before
        )


def test_edit_on_both_sides_resolves_by_rule_and_keeps_a_conflict(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    with db.transaction(sessions) as session:
        service.update_customer(session, tenant_id, customer_id, {"phone": "+49 30 7777777"})
    # The CRM change is older than the local one: two_way keeps the local value.
    result = apply(
        sessions, connection_id, "company", company("101", minutes=-30 + 31, phone="+49 30 5555555")
    )
    assert result.counts["conflicts"] == 1 and result.needs_push
    with sessions() as session:
        assert session.get(Customer, customer_id).phone == "+49307777777"  # type: ignore[union-attr]
        [conflict] = session.scalars(select(SyncConflict))
        assert (conflict.field, conflict.local_value, conflict.remote_value) == (
            "phone",
            "+49307777777",
            "+49305555555",
        )
        assert conflict.rule == "two_way (local won)"


def test_crm_delete_archives_and_unlinks(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    deleted = RemoteRecord("company", "101", {}, T0 + timedelta(minutes=9), archived=True)
    assert apply(sessions, connection_id, "company", deleted).counts["archived"] == 1
    assert links(sessions) == {}
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert (
            customer is not None
            and customer.archived_at is not None
            and customer.deleted_at is None
        )


def test_crm_merge_moves_the_link_to_the_survivor(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    survivor = RemoteRecord(
        "company",
        "202",
        {"name": "Acme Corp", "domain": "acme.com"},
        T0 + timedelta(minutes=3),
        merged_ids=("101",),
    )
    result = apply(sessions, connection_id, "company", survivor)
    assert result.counts["merged"] == 1
    assert links(sessions) == {"202": customer_id}


def test_a_bad_record_fails_alone(sessions: sessionmaker[Session], connection_id: int) -> None:
    result = apply(
        sessions,
        connection_id,
        "company",
        company("101"),
        company("102", name="", domain="nameless.io"),
        company("103", name="Globex", domain="globex.com"),
    )
    assert (result.counts["created"], result.counts["failed"]) == (2, 1)
    assert set(links(sessions)) == {"101", "103"}
    with sessions() as session:
        [failure] = session.scalars(select(SyncFailure))
        assert (failure.external_id, failure.direction, failure.error_class) == (
            "102",
            "inbound",
            "permanent",
        )
        assert "name" in failure.message
        assert failure.payload == {
            "actor": "sync_records",
            "args": [connection_id, "company", ["102"]],
            "kwargs": {},
        }


def test_contacts_attach_to_their_company(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    contact = RemoteRecord(
        "contact", "9001", {"firstname": "Seán", "lastname": "O'Brien", "email": "Sean@Acme.com", "phone": "030 999888"},
        T0, associations=("101",),
    )  # fmt: skip
    orphan = RemoteRecord(
        "contact", "9002", {"firstname": "Ann", "email": "ann@x.com"}, T0, associations=("555",)
    )
    result = apply(sessions, connection_id, "contact", contact, orphan)
    assert (result.counts["contacts_created"], result.counts["contacts_orphan"]) == (1, 1)
    with sessions() as session:
        [local] = session.scalars(select(Contact))
        assert (local.customer_id, local.first_name, local.email, local.phone) == (
            customer_id,
            "Seán",
            "sean@acme.com",
            "+4930999888",
        )


def test_a_second_crm_record_of_a_linked_customer_is_held_as_a_duplicate_inside_the_crm(
    sessions: sessionmaker[Session], connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    result = apply(sessions, connection_id, "company", company("102", name="ACME CORP"))
    assert result.counts["held"] == 1 and not result.created_customers
    assert links(sessions) == {"101": customer_id}
    with sessions() as session:
        [review] = session.scalars(select(DuplicateReview))
        [candidate] = review.candidates
        assert review.external_id == "102" and candidate["customer_id"] == customer_id
        assert "linked to company 101: a duplicate inside the CRM" in candidate["reasons"]


def test_a_customer_archived_by_a_crm_delete_is_never_linked_again_by_matching(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    apply(sessions, connection_id, "company", company("102", name="ACME CORP"))  # held
    deleted = RemoteRecord("company", "101", {}, T0 + timedelta(minutes=5), archived=True)
    apply(sessions, connection_id, "company", deleted)
    # The look-alike comes again (an edit, a reconcile): the business stays gone ...
    again = apply(sessions, connection_id, "company", company("102", 9, name="ACME CORP"))
    assert again.counts["held"] == 1 and links(sessions) == {}
    with sessions() as session:
        [review] = session.scalars(select(DuplicateReview))
        assert "archived: only a person links it again" in review.candidates[0]["reasons"]
        assert len(session.scalars(select(Customer)).all()) == 1
    # ... until a person links it.
    with db.transaction(sessions) as session:
        reviews.link(session, tenant_id, review.id, customer_id)
    assert links(sessions) == {"102": customer_id}


def test_a_customer_deleted_locally_ignores_crm_edits_until_the_crm_deletes_it_too(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    apply(sessions, connection_id, "company", company("101"))
    customer_id = links(sessions)["101"]
    with db.transaction(sessions) as session:
        service.delete_customer(session, tenant_id, customer_id)
    edited = apply(sessions, connection_id, "company", company("101", 5, name="Acme Renamed"))
    assert edited.counts["ignored_deleted"] == 1 and edited.counts["failed"] == 0
    assert links(sessions) == {"101": customer_id}  # no pass creates it again
    with sessions() as session:
        assert session.scalars(select(SyncFailure)).all() == []
        assert [c.name for c in session.scalars(select(Customer))] == ["Acme Corp"]
        with pytest.raises(Refused, match="delete or merge the CRM record first"):
            service.purge_customer(session, tenant_id, customer_id)
    gone = RemoteRecord("company", "101", {}, T0 + timedelta(minutes=9), archived=True)
    apply(sessions, connection_id, "company", gone)
    assert links(sessions) == {}
    with db.transaction(sessions) as session:
        service.purge_customer(session, tenant_id, customer_id)
    with sessions() as session:
        assert session.scalars(select(Customer)).all() == []


@pytest.mark.parametrize("crmsync_id", ["²", "9" * 20, "-3", " 0 ", "12abc"])
def test_a_crmsync_id_that_is_none_of_ours_names_no_record_and_fails_nothing(
    sessions: sessionmaker[Session], connection_id: int, crmsync_id: str
) -> None:
    """Found by sweeping for '²'.isdigit(): the CRM's field holding our id is a field a
    person can edit; '²' passed isdigit() and failed int(), and twenty digits failed
    PostgreSQL's integer, each failing the whole page. Such a record is a new one."""
    odd = RemoteRecord("company", "201", {"name": "Odd Ltd", "domain": "odd.io"}, T0,
                       local_id=crmsync_id)  # fmt: skip
    result = apply(sessions, connection_id, "company", odd, company("202", domain="fine.io"))
    assert result.counts["created"] == 2 and result.counts["failed"] == 0
    assert set(links(sessions)) == {"201", "202"}


TIER_MAP = """\
object: company
fields:
  - {local: custom_properties.account_tier, remote: account_tier, rule: two_way}
"""


def test_a_crm_value_for_one_custom_key_keeps_the_other_keys(
    sessions: sessionmaker[Session], tenant_id: int, tmp_path: Path
) -> None:
    override = tmp_path / "tier.yaml"
    override.write_text(TIER_MAP, encoding="utf-8")
    with db.transaction(sessions) as session:
        connection = Connection(
            tenant_id=tenant_id, provider="hubspot", account_id="4712", name="tiers",
            mapping=str(override),
        )  # fmt: skip
        session.add(connection)
        session.flush()
        connection_id = connection.id
    apply(sessions, connection_id, "company", company("101", account_tier="gold"))
    customer_id = links(sessions)["101"]
    with db.transaction(sessions) as session:
        service.update_customer(
            session, tenant_id, customer_id, {}, custom=CustomChanges(set={"owner": "kim"})
        )
    edited = apply(sessions, connection_id, "company", company("101", 5, account_tier="platinum"))
    assert edited.counts["updated"] == 1
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert customer.custom_properties == {"account_tier": "platinum", "owner": "kim"}
        last = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc())).first()
        assert last is not None
        assert (last.fields, last.origin_connection_id) == (["custom_properties"], connection_id)
    blanked = apply(sessions, connection_id, "company", company("101", 9, account_tier=""))
    assert blanked.counts["updated"] == 1
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.custom_properties == {"owner": "kim"}


def test_a_crm_company_without_a_billing_address_is_created_and_flagged_incomplete(
    sessions: sessionmaker[Session], tenant_id: int, connection_id: int
) -> None:
    """The tenant requires a billing address of customers added by hand; a CRM record
    without one is still created, and listed as incomplete."""
    with db.transaction(sessions) as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.require_billing_address = True
    result = apply(sessions, connection_id, "company", company("101"))
    assert result.counts["created"] == 1
    with sessions() as session:
        rows, total = service.list_customers(session, tenant_id, incomplete=True)
        assert total == 1
        assert rows[0].missing_fields == ["email", "billing_street", "billing_city"]


def test_a_page_of_linked_contacts_reads_their_customers_together(
    sessions: sessionmaker[Session], connection_id: int, engine: Engine
) -> None:
    """Each contact's merge reads phones in its customer's country: the page loads the
    customers with the contacts, not one by one (four queries each, with their own eager
    loads)."""
    companies = [company(str(100 + n), name=f"Firm {n}", domain=f"firm{n}.com") for n in range(6)]
    apply(sessions, connection_id, "company", *companies)

    def contact(n: int, minutes: int, phone: str) -> RemoteRecord:
        return RemoteRecord(
            "contact", str(9000 + n), {"firstname": f"Ann{n}", "email": f"ann@firm{n}.com", "phone": phone},
            T0 + timedelta(minutes=minutes), associations=(str(100 + n),),
        )  # fmt: skip

    apply(sessions, connection_id, "contact", *(contact(n, 0, "030 999888") for n in range(6)))
    selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM customers" in statement:
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = apply(
            sessions, connection_id, "contact", *(contact(n, 5, "030 777666") for n in range(6))
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.counts["contacts_updated"] == 6
    assert len(selects) <= 2, selects
    with sessions() as session:
        assert {c.phone for c in session.scalars(select(Contact))} == {"+4930777666"}


def edited_firms(n: int, minutes: int, **changed: dict[str, Any]) -> list[RemoteRecord]:
    return [
        company(str(100 + i), minutes, **{"name": f"Firm {i}", "domain": f"firm{i}.com",
                "city": f"City {i}.{minutes}", **changed.get(str(100 + i), {})})
        for i in range(n)
    ]  # fmt: skip


def test_a_page_of_edits_is_written_in_one_savepoint(
    sessions: sessionmaker[Session], connection_id: int, engine: Engine
) -> None:
    apply(sessions, connection_id, "company", *edited_firms(8, 0))
    savepoints: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.upper().startswith("SAVEPOINT"):
            savepoints.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = apply(sessions, connection_id, "company", *edited_firms(8, 5))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.counts["updated"] == 8 and len(savepoints) == 1
    linked = sorted(links(sessions).values())
    with sessions() as session:
        cities = {c.name: c.billing_city for c in session.scalars(select(Customer))}
        outbox = session.scalars(select(OutboxEntry).where(OutboxEntry.operation == "update"))
        updated = sorted(row.entity_id for row in outbox)
    assert cities == {f"Firm {i}": f"City {i}.5" for i in range(8)}
    assert updated == linked


def test_a_bad_edit_in_a_page_of_edits_fails_alone(
    sessions: sessionmaker[Session], connection_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(sessions, connection_id, "company", *edited_firms(5, 0))
    refused = links(sessions)["102"]
    update = service.update_customer

    def refusing(
        session: Session, tenant_id: int, customer_id: int, *args: Any, **kwargs: Any
    ) -> Any:
        if customer_id == refused:
            raise Refused(f"customer {customer_id} may not change now")
        return update(session, tenant_id, customer_id, *args, **kwargs)

    monkeypatch.setattr(service, "update_customer", refusing)
    result = apply(sessions, connection_id, "company", *edited_firms(5, 5))
    assert (result.counts["updated"], result.counts["failed"]) == (4, 1)
    with sessions() as session:
        cities = {c.name: c.billing_city for c in session.scalars(select(Customer))}
        [failure] = session.scalars(select(SyncFailure))
    assert cities == {f"Firm {i}": f"City {i}.{0 if i == 2 else 5}" for i in range(5)}
    assert failure.external_id == "102" and "may not change now" in failure.message
