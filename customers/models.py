"""The directory's tables: tenants, customers, contacts, and what references a customer.

Rules the schema itself keeps (so no code path can break them):

- a customer's email is unique per tenant among live (not soft-deleted) customers, and is
  stored lower-cased so casing never makes a second record;
- a customer has at most one live primary contact;
- ``version`` is a SQLAlchemy version counter: a write based on an old read fails instead
  of silently overwriting someone else's change.

Sync state (connections, links, outbox, runs, failures) lives in ``customers.sync_state``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    or_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from customers.types import JSONType, Money, Percent, UTCDateTime, utcnow

# Stable constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class CustomerType(StrEnum):
    BUSINESS = "business"
    CONSUMER = "consumer"
    GOVERNMENT = "government"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # hidden from routine lists, still invoiceable if reactivated
    BLOCKED = "blocked"  # do not invoice


class ContactRole(StrEnum):
    PRIMARY = "primary"
    BILLING = "billing"
    ORDER = "order"
    SHIPMENT = "shipment"
    LEGAL = "legal"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Customers added by hand or imported need a billing address (``customers.billing``);
    # those a CRM sync creates without one are kept and shown as incomplete.
    require_billing_address: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )


ADDRESS_PARTS = ("street", "street2", "city", "region", "postal_code", "country")
# A customer's columns that hold the keys its duplicates are found by.
MATCH_COLUMNS = ("match_tax_id", "match_email", "match_domain", "match_name")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index(
            "uq_customers_tenant_email_live",
            "tenant_id",
            "email",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_customers_tenant_name", "tenant_id", "name"),
        Index("ix_customers_tenant_domain", "tenant_id", "domain"),
        Index("ix_customers_tenant_tax_id", "tenant_id", "tax_id"),
        # The keys duplicates are found by (``customers.match_columns`` keeps them current).
        Index("ix_customers_tenant_match_tax_id", "tenant_id", "match_tax_id"),
        Index("ix_customers_tenant_match_email", "tenant_id", "match_email"),
        Index("ix_customers_tenant_match_domain", "tenant_id", "match_domain"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(500))
    domain: Mapped[str | None] = mapped_column(String(255))
    tax_id: Mapped[str | None] = mapped_column(String(64))
    registration_number: Mapped[str | None] = mapped_column(String(64))
    customer_type: Mapped[str] = mapped_column(String(16), default=CustomerType.BUSINESS.value)
    status: Mapped[str] = mapped_column(String(16), default=CustomerStatus.ACTIVE.value)

    billing_street: Mapped[str | None] = mapped_column(String(300))
    billing_street2: Mapped[str | None] = mapped_column(String(300))
    billing_city: Mapped[str | None] = mapped_column(String(120))
    billing_region: Mapped[str | None] = mapped_column(String(120))
    billing_postal_code: Mapped[str | None] = mapped_column(String(32))
    billing_country: Mapped[str | None] = mapped_column(String(2))
    shipping_street: Mapped[str | None] = mapped_column(String(300))
    shipping_street2: Mapped[str | None] = mapped_column(String(300))
    shipping_city: Mapped[str | None] = mapped_column(String(120))
    shipping_region: Mapped[str | None] = mapped_column(String(120))
    shipping_postal_code: Mapped[str | None] = mapped_column(String(32))
    shipping_country: Mapped[str | None] = mapped_column(String(2))

    currency: Mapped[str | None] = mapped_column(String(3))
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    credit_limit: Mapped[Decimal | None] = mapped_column(Money())

    category: Mapped[str | None] = mapped_column(String(64))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    category_confidence: Mapped[float | None]
    category_source: Mapped[str | None] = mapped_column(String(120))
    categorized_at: Mapped[datetime | None]
    # When automatic categorization was last scheduled: a re-run of auto-categorize skips
    # customers whose job is still pending. Bookkeeping, so it is set without a version bump.
    categorization_requested_at: Mapped[datetime | None]

    notes: Mapped[str | None] = mapped_column(Text)
    custom_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)

    # Invoice delivery (``customers.delivery``): who sends, where replies go, who receives.
    invoice_sender_email: Mapped[str | None] = mapped_column(String(320))
    invoice_reply_to: Mapped[str | None] = mapped_column(String(320))
    invoice_recipients: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    invoice_cc: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    # Tax and billing settings: values and defaults in ``customers.billing``.
    tax_rate: Mapped[Decimal] = mapped_column(
        Percent(), default=Decimal("0.00"), server_default=text("'0'")
    )
    tax_country: Mapped[str | None] = mapped_column(String(2))
    tax_exemption: Mapped[str] = mapped_column(
        String(16), default="none", server_default=text("'none'")
    )
    tax_exemption_reason: Mapped[str | None] = mapped_column(String(200))
    legal_entity_id: Mapped[int | None] = mapped_column(
        ForeignKey("legal_entities.id"),
        index=True,  # a legal entity in use stays
    )
    invoicing_flow: Mapped[str] = mapped_column(
        String(16), default="automatic", server_default=text("'automatic'")
    )
    auto_pay: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    notify_invoice_issued: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    notify_payment_reminder: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    notify_payment_received: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    portal_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    sales_rep_email: Mapped[str | None] = mapped_column(String(320))
    sales_rep_name: Mapped[str | None] = mapped_column(String(200))

    # What duplicates are found by, worked out from the values above whenever a customer is
    # written (``customers.match_columns``): the normalized tax id, the lower-case email,
    # the registrable company domain and the name key. Never set by hand.
    match_tax_id: Mapped[str | None] = mapped_column(String(64))
    # Text: lower-casing and IDNA encoding can make them longer than the values.
    match_email: Mapped[str | None] = mapped_column(Text)
    match_domain: Mapped[str | None] = mapped_column(Text)
    match_name: Mapped[str | None] = mapped_column(Text)

    archived_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.id", lazy="selectin"
    )
    tag_rows: Mapped[list[CustomerTag]] = relationship(
        order_by="CustomerTag.tag", lazy="selectin", cascade="all, delete-orphan"
    )
    legal_entity: Mapped[LegalEntity | None] = relationship(lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def can_be_invoiced(self) -> bool:
        return (
            self.status == CustomerStatus.ACTIVE
            and not self.is_deleted
            and not self.is_archived
            and bool(self.email)
        )

    def address(self, kind: str) -> dict[str, str | None]:
        return {part: getattr(self, f"{kind}_{part}") for part in ADDRESS_PARTS}

    @property
    def tax_address(self) -> dict[str, str | None]:
        """Where tax is decided: the shipping address when it can decide it (it names a
        country, and a city or postal code), else billing. A partial shipping address (a
        ``c/o`` line alone) never replaces the billing one."""
        shipping = self.address("shipping")
        usable = shipping["country"] and (shipping["city"] or shipping["postal_code"])
        return shipping if usable else self.address("billing")

    @property
    def missing_fields(self) -> list[str]:
        """What a customer added by hand must have and this one lacks: an email and a
        billing address (street, city, country). CRM records may come without them."""
        missing = [] if self.email else ["email"]
        return missing + [
            part
            for part in ("billing_street", "billing_city", "billing_country")
            if not getattr(self, part)
        ]

    @hybrid_property
    def incomplete(self) -> bool:
        return bool(self.missing_fields)

    @incomplete.inplace.expression
    @classmethod
    def _incomplete_expression(cls) -> ColumnElement[bool]:
        return or_(
            *(
                or_(column.is_(None), column == "")
                for column in (cls.email, cls.billing_street, cls.billing_city, cls.billing_country)
            )
        )

    @property
    def tags(self) -> list[str]:
        """The customer's tags, sorted (see ``customers.tags``)."""
        return [row.tag for row in self.tag_rows]

    @property
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary and c.deleted_at is None), None)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index(
            "uq_contacts_one_primary",
            "customer_id",
            unique=True,
            sqlite_where=text("is_primary AND deleted_at IS NULL"),
            postgresql_where=text("is_primary AND deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    job_title: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the contact receives: billing, updates, legal or own labels (customers.delivery).
    communications: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    department: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class CustomerNameWord(Base):
    """A word of a live customer's name key (``match_name``, which the row carries too):
    the customers sharing a word with a name are found by it, with their keys, and
    counted, in an index range. Written with the match
    columns (``customers.match_columns``); a soft-deleted customer has no words."""

    __tablename__ = "customer_name_words"
    # Removing a customer's words (a new name, a soft delete) looks them up by customer.
    __table_args__ = (Index("ix_customer_name_words_customer_id", "customer_id"),)

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    # The customer's whole name key, so candidates are read with it, not looked up by id.
    match_name: Mapped[str] = mapped_column(Text)


class CustomerReference(Base):
    """Something outside the directory that points at a customer (an invoice in the
    billing system, a credit memo, the customer's number in an ERP): the customer's
    aliases. While any exists the customer cannot be purged.

    A (system, reference) pair names one customer of a tenant: ``customers search`` finds
    the customer by it. ``system`` is stored lower-cased (``customers.aliases``)."""

    __tablename__ = "customer_references"
    __table_args__ = (UniqueConstraint("tenant_id", "system", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    system: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(Base):
    """A local change waiting to go to the tenant's CRMs.

    Written in the same transaction as the change. ``origin_connection_id`` is set when the
    change came in from that connection, so it is not pushed back to where it came from.
    Delivery progress per connection is tracked by the push side, not here.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(16))  # customer | contact
    entity_id: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete | purge
    fields: Mapped[list[str]] = mapped_column(JSONType, default=list)  # changed field names
    origin_connection_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PropertyType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    ENUM = "enum"  # one of a list of options


class CustomPropertyDefinition(Base):
    """A tenant's declaration of one custom property key: how to show it and which values
    it takes. Keys without a definition still hold any text (``customers.property_definitions``)."""

    __tablename__ = "custom_property_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    group_name: Mapped[str | None] = mapped_column(String(100))
    value_type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)  # enum only
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerTag(Base):
    """One label on one customer; a customer's tags are a set (``customers.tags``)."""

    __tablename__ = "customer_tags"
    __table_args__ = (
        UniqueConstraint("customer_id", "tag"),
        Index("ix_customer_tags_tenant_id_tag", "tenant_id", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LegalEntity(Base):
    """One of the tenant's own billing entities (the company that issues the invoice: a
    GmbH in Germany, an Inc. in the US). A customer is billed by at most one."""

    __tablename__ = "legal_entities"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    tax_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
