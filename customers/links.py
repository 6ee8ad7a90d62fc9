"""What a customer is linked to: its CRM records, one per connection at most.

Read-only: links are made and removed by the sync and by ``crmsync customers link`` /
``unlink`` (``worker.sync.linking``), never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.aliases import aliases_of
from customers.sync_state import Connection, ExternalLink


@dataclass(frozen=True)
class LinkView:
    connection_id: int
    connection_name: str
    provider: str  # the CRM: hubspot | salesforce
    object_type: str
    external_id: str
    last_synced_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "connection": self.connection_name,
            "crm": self.provider,
            "object_type": self.object_type,
            "external_id": self.external_id,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
        }


def links_of(session: Session, tenant_id: int, customer_id: int) -> list[LinkView]:
    """The customer's CRM links, by connection."""
    rows = session.execute(
        select(ExternalLink, Connection)
        .join(Connection, Connection.id == ExternalLink.connection_id)
        .where(
            Connection.tenant_id == tenant_id,
            ExternalLink.local_type == "customer",
            ExternalLink.local_id == customer_id,
        )
        .order_by(ExternalLink.connection_id, ExternalLink.id)
    )
    return [
        LinkView(
            connection_id=connection.id,
            connection_name=connection.name,
            provider=connection.provider,
            object_type=link.object_type,
            external_id=link.external_id,
            last_synced_at=link.last_synced_at,
        )
        for link, connection in rows
    ]


def identity_of(session: Session, tenant_id: int, customer_id: int) -> dict[str, Any]:
    """A customer's links and aliases, as ``customers show`` prints them."""
    return {
        "links": [link.as_dict() for link in links_of(session, tenant_id, customer_id)],
        "aliases": [
            {"system": alias.system, "reference": alias.reference}
            for alias in aliases_of(session, customer_id)
        ],
    }
