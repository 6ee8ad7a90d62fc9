"""Salesforce Outbound Messages: reading the SOAP ``notifications`` message into
:class:`~connectors.webhooks.Event` values, and the ``<Ack>true</Ack>`` answer.

Requests are untrusted XML, so they are parsed with defusedxml only (no entities, no DTDs,
no external references). A message carries its ``OrganizationId``; the caller checks it
against the connection the URL's token names. Each notification has an ``Id`` that stays
the same across Salesforce's redeliveries, which is the dedupe key; the sObject's own
``Id`` is the record to sync (the values in the message are ignored: the sync fetches
current state).

This module must not touch the database, the broker or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeET

from connectors.webhooks import Event, Rejected

PROVIDER = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
OBJECT_TYPES = {"Account": "account", "Contact": "contact"}
RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
MAX_NOTIFICATIONS = 1000  # Salesforce sends at most 100
_NS = {"o": OUTBOUND_NS}

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()


@dataclass(frozen=True)
class Message:
    organization_id: str
    action_id: str
    events: list[Event]


def parse(body: bytes) -> Message:
    """The message's events; raises :class:`Rejected` (400) for anything else."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except Exception:
        # defusedxml raises ParseError, its own forbidden-construct errors, and codec
        # errors for a bad encoding declaration: all mean "not an Outbound Message".
        raise Rejected(400, "malformed", "body is not well-formed, safe XML") from None
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise Rejected(400, "malformed", "body is not a SOAP envelope")
    node = root.find(f"{{{SOAP_ENV_NS}}}Body/o:notifications", _NS)
    if node is None:
        raise Rejected(400, "malformed", "no notifications element")
    organization_id = (node.findtext("o:OrganizationId", default="", namespaces=_NS)).strip()
    if not RECORD_ID.fullmatch(organization_id):
        raise Rejected(400, "malformed", "no OrganizationId")
    items = node.findall("o:Notification", _NS)
    if not 0 < len(items) <= MAX_NOTIFICATIONS:
        raise Rejected(400, "malformed", "no notifications, or too many")
    action_id = (node.findtext("o:ActionId", default="", namespaces=_NS)).strip()[:64]
    events = [_event(item, organization_id, action_id) for item in items]
    return Message(organization_id=organization_id, action_id=action_id, events=events)


def _event(item: Any, organization_id: str, action_id: str) -> Event:
    notification_id = (item.findtext("o:Id", default="", namespaces=_NS)).strip()
    sobject = item.find("o:sObject", _NS)
    if not RECORD_ID.fullmatch(notification_id) or sobject is None:
        raise Rejected(400, "malformed", "a notification has no Id or sObject")
    sobject_type = sobject.get(XSI_TYPE, "").rpartition(":")[2]
    fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in sobject}
    record_id = fields.get("Id", "")
    if not RECORD_ID.fullmatch(record_id):
        raise Rejected(400, "malformed", "a notification's sObject has no Id")
    object_type = OBJECT_TYPES.get(sobject_type)
    return Event(
        account_id=organization_id,
        dedupe_key=f"salesforce:{notification_id}",
        occurred_at=_modified_at(fields),
        records=((object_type, record_id),) if object_type else (),
        payload={
            "notificationId": notification_id,
            "actionId": action_id,
            "sObjectType": sobject_type[:64],
            "id": record_id,
        },
    )


def _modified_at(fields: dict[str, str]) -> datetime | None:
    for name in ("SystemModstamp", "LastModifiedDate"):
        value = fields.get(name)
        if value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    continue
                # In UTC here, where a time at the edge of the calendar fails (year 9999 at
                # -14:00 is past datetime.max in UTC), not later in the database.
                return moment.astimezone(UTC)
            except (ValueError, OverflowError):
                continue
    return None
