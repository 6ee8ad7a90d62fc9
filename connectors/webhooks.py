"""What a CRM's webhook parser hands the webhooks app: parsed events, and the refusal of a
request.

Each CRM package reads its own requests (``connectors.hubspot.webhooks``,
``connectors.salesforce.webhooks``) into :class:`Event` values or raises :class:`Rejected`;
``worker.webhooks`` serves the HTTP side, stores the events and enqueues their records.

This module must not touch the database, the broker or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Rejected(Exception):
    """The request is refused as a whole; nothing was written or enqueued."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # a short metric label: bad_signature, unknown_account, ...


@dataclass(frozen=True)
class Event:
    """One CRM event, parsed: where it belongs, how to recognise it again, what it names."""

    account_id: str  # HubSpot portal id / Salesforce organization id
    dedupe_key: str
    occurred_at: datetime | None
    records: tuple[tuple[str, str], ...]  # (object type, external id)
    payload: dict[str, Any]
