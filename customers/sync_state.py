"""Tables that hold sync state: connections to CRMs, links between CRM records and local
records, cursors, runs, failures, conflicts and received webhook events.

The directory's own tables are in ``customers.models``; these only point at them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from customers.models import Base
from customers.types import JSONType, utcnow


class ConnectionStatus(StrEnum):
    """Where a connection is in its life. Only an active one is scheduled, has its
    webhook events enqueued and runs jobs; ``status_reason`` says why it is not."""

    ACTIVE = "active"
    PAUSED = "paused"  # by an operator; resume picks up where it stopped
    AUTH_FAILED = "auth_failed"  # the CRM refused its credentials after a token refresh
    REMOVED = "removed"  # credentials deleted; links and history kept; never scheduled again


class Connection(Base):
    """One tenant's link to one CRM account (a HubSpot portal, a Salesforce org)."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("provider", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))  # hubspot | salesforce
    account_id: Mapped[str] = mapped_column(String(64))  # portal id / organization id
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted at rest
    mapping: Mapped[str | None] = mapped_column(String(500))  # a map file, or the shipped one
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    auto_create: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=ConnectionStatus.ACTIVE.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    webhook_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalLink(Base):
    """A CRM record and a local record are the same thing. Unique both ways.

    ``base`` is the snapshot of the values last synced (the merge base) and ``fingerprint``
    its hash, so a value we wrote that comes back is recognised as an echo.
    """

    __tablename__ = "external_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "external_id"),
        UniqueConstraint("connection_id", "object_type", "local_id"),
        Index("ix_external_links_local", "local_type", "local_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(32))  # company | contact | account
    external_id: Mapped[str] = mapped_column(String(64))
    local_type: Mapped[str] = mapped_column(String(16))  # customer | contact
    local_id: Mapped[int] = mapped_column(Integer)
    base: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    remote_modified_at: Mapped[datetime | None]  # the CRM's time of the state last merged
    # The CRM's time of our last write to the record, where the CRM tells it (HubSpot).
    # Writes guard against edits made after the later of the two (``read_as_of``).
    remote_written_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def read_as_of(self) -> datetime | None:
        """The CRM's time up to which every change to the record is known here: what it
        held then was merged or written by us. A write must not replace a later edit."""
        known = [t for t in (self.remote_modified_at, self.remote_written_at) if t is not None]
        return max(known) if known else None


class SyncCursor(Base):
    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("connection_id", "object_type", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # incremental | reconcile | outbox
    value: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # opaque to the db
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def outbox_cursor(connection_id: int) -> Select[SyncCursor]:
    """The connection's position in the outbox: the rows up to it are pushed or failed."""
    return select(SyncCursor).where(
        SyncCursor.connection_id == connection_id,
        SyncCursor.object_type == "*",
        SyncCursor.kind == "outbox",
    )


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connection_started", "connection_id", "started_at"),
        Index("ix_sync_runs_started_at", "started_at"),  # the prune, across connections
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # records | incremental | reconcile | push
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    cursor_before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cursor_after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)


class SyncFailure(Base):
    """A record or message that failed for good, with what is needed to replay it."""

    __tablename__ = "sync_failures"
    __table_args__ = (
        Index("ix_sync_failures_status", "status", "connection_id"),
        Index("ix_sync_failures_tenant_status", "tenant_id", "status"),
        Index("ix_sync_failures_status_last_failed", "status", "last_failed_at"),  # the prune
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The tenant it belongs to (from its connection, or its customer): only it sees the row.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound | categorize
    object_type: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    local_id: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str] = mapped_column(String(32))  # permanent | transient | auth | ...
    crm_code: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)


class SyncConflict(Base):
    """A field changed on both sides since the last sync, and how the rule resolved it."""

    __tablename__ = "sync_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    object_type: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(120))
    base_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    local_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    remote_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    resolved_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    rule: Mapped[str] = mapped_column(String(64))  # "<rule> (<side> won)"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A received CRM event, kept to deduplicate redeliveries and to order by occurrence."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key"),
        Index("ix_webhook_events_received_at", "received_at"),  # the prune
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="received")


class DuplicateReview(Base):
    """A CRM record held back because it looks like a customer we already have.

    Never linked automatically: a person links it to one of the ``candidates`` or creates
    it as a new customer. ``values`` is the record in directory form, so it can be created
    without asking the CRM again.
    """

    __tablename__ = "duplicate_reviews"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "external_id"),
        Index("ix_duplicate_reviews_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    object_type: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|linked|created|dismissed
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
