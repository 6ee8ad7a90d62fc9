"""Sales reps: who a customer's sales rep is in each connected CRM.

A customer names its sales rep by email (``sales_rep_email``); each CRM knows the same
person as a record owner: a HubSpot owner id (``hubspot_owner_id``), a Salesforce User Id
(``OwnerId``). :func:`match_sales_reps` asks every active connection of the tenant, by
email, through its connector's ``find_owner``: one question per rep and connection, never
per customer. A CRM that fails to answer is reported for that connection; the others
still answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.errors import ConnectorError
from customers.models import Customer
from customers.service import get_customer
from customers.sync_state import Connection, ConnectionStatus
from worker.sync.connections import connector


@dataclass(frozen=True)
class OwnerMatch:
    connection_id: int
    provider: str
    account_id: str
    owner_id: str | None  # None: nobody with this email owns records there
    error: str | None = None  # the CRM did not answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection_id,
            "provider": self.provider,
            "account_id": self.account_id,
            "owner_id": self.owner_id,
            "error": self.error,
        }


@dataclass
class SalesRep:
    email: str
    name: str | None
    customers: int
    matches: list[OwnerMatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "customers": self.customers,
            "matches": [match.as_dict() for match in self.matches],
        }


def sales_reps(session: Session, tenant_id: int, customer_id: int | None = None) -> list[SalesRep]:
    """The tenant's sales reps (of live customers, or of one customer), by email, with
    how many customers each has."""
    query = (
        select(Customer.sales_rep_email, func.max(Customer.sales_rep_name), func.count())
        .where(
            Customer.tenant_id == tenant_id,
            Customer.deleted_at.is_(None),
            Customer.sales_rep_email.is_not(None),
        )
        .group_by(Customer.sales_rep_email)
        .order_by(Customer.sales_rep_email)
    )
    if customer_id is not None:
        get_customer(session, tenant_id, customer_id)  # another tenant's id: not found
        query = query.where(Customer.id == customer_id)
    return [SalesRep(str(email), name, count) for email, name, count in session.execute(query)]


def match_sales_reps(
    session: Session, tenant_id: int, customer_id: int | None = None
) -> list[SalesRep]:
    """The tenant's sales reps, each matched in every active connection of the tenant."""
    reps = sales_reps(session, tenant_id, customer_id)
    connections = session.scalars(
        select(Connection)
        .where(
            Connection.tenant_id == tenant_id,
            Connection.status == ConnectionStatus.ACTIVE.value,
        )
        .order_by(Connection.id)
    ).all()
    for connection in connections:
        crm: Connector | None = None
        try:
            crm = connector(connection)
        except ConnectorError as error:
            failed = error.message
        for rep in reps:
            if crm is None:
                rep.matches.append(_match(connection, None, failed))
                continue
            try:
                rep.matches.append(_match(connection, crm.find_owner(rep.email)))
            except ConnectorError as error:
                rep.matches.append(_match(connection, None, error.message))
    return reps


def _match(connection: Connection, owner_id: str | None, error: str | None = None) -> OwnerMatch:
    return OwnerMatch(connection.id, connection.provider, connection.account_id, owner_id, error)
