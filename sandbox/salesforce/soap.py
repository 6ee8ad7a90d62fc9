"""Outbound Message SOAP payloads, and reading the listener's acknowledgement.

The envelope follows the Outbound Messaging WSDL: ``notifications`` in namespace
``http://soap.sforce.com/2005/09/outbound`` with OrganizationId, ActionId, SessionId
(nil unless the action sends one), EnterpriseUrl, PartnerUrl and up to 100
``Notification`` elements. Fields whose value is null are left out of the sObject, as
Salesforce does. Replies are parsed with defusedxml: listeners are untrusted input.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return escape(str(value))


def notification_xml(notification_id: str, object_name: str, values: dict[str, Any]) -> str:
    fields = "".join(
        f"<sf:{name}>{_xml_value(value)}</sf:{name}>"
        for name, value in values.items()
        if value is not None
    )
    return (
        f"<Notification><Id>{escape(notification_id)}</Id>"
        f'<sObject xsi:type={quoteattr("sf:" + object_name)} xmlns:sf="{SOBJECT_NS}">'
        f"{fields}</sObject></Notification>"
    )


def envelope(
    *,
    organization_id: str,
    action_id: str,
    session_id: str | None,
    enterprise_url: str,
    partner_url: str,
    notifications: Iterable[str],
) -> bytes:
    session = (
        f"<SessionId>{escape(session_id)}</SessionId>"
        if session_id
        else '<SessionId xsi:nil="true"/>'
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="{XSI_NS}">'
        "<soapenv:Body>"
        f'<notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{escape(organization_id)}</OrganizationId>"
        f"<ActionId>{escape(action_id)}</ActionId>"
        f"{session}"
        f"<EnterpriseUrl>{escape(enterprise_url)}</EnterpriseUrl>"
        f"<PartnerUrl>{escape(partner_url)}</PartnerUrl>"
        f"{''.join(notifications)}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    )
    return body.encode("utf-8")


def ack_response(ack: bool = True) -> bytes:
    """What a listener answers; used by tests and example receivers."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body>'
        f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>{"true" if ack else "false"}</Ack>'
        "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
    ).encode()


def is_ack(body: bytes) -> bool:
    """True only for a SOAP reply whose ``notificationsResponse`` says ``Ack`` true."""
    try:
        root = SafeET.fromstring(body)
    except Exception:  # defusedxml raises several types for bad or hostile XML
        return False
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return False
    ack = root.find(f".//{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip().lower() == "true"
