"""Fixtures: Salesforce sandboxes on real sockets (port 0) and an Outbound Message listener.

``sf_sandbox`` is a fresh, empty org per test; ``sf`` is an unchanged simple-salesforce
client for it. ``big_sandbox`` is one org seeded with 25,000 accounts, shared by the
module that pages through it. ``outbound_listener`` is a tiny Starlette app that
records every SOAP message it gets and answers with a scripted acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
import pytest
from simple_salesforce import Salesforce
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.faults import Faults
from sandbox.runner import ServerThread
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.soap import OUTBOUND_NS, SOBJECT_NS, ack_response
from sandbox.seed import generate_companies

BIG_ORG_ACCOUNTS = 25_000


@pytest.fixture
def sf_sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(faults=Faults(seed=7), outbound_time_scale=0.001) as sandbox:
        yield sandbox


@pytest.fixture
def sf(sf_sandbox: SalesforceSandbox) -> Salesforce:
    return sf_sandbox.client()


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as sandbox:
        sandbox.seed(generate_companies(BIG_ORG_ACCOUNTS, contacts_per_company=0, seed=3))
        yield sandbox


@dataclass
class Notification:
    notification_id: str
    object_type: str
    fields: dict[str, str]


@dataclass
class Message:
    headers: dict[str, str]
    organization_id: str
    action_id: str
    session_nil: bool
    notifications: list[Notification]


@dataclass
class OutboundListener:
    """Records parsed messages; ``replies`` scripts the answers (True = Ack), then acks."""

    url: str = ""
    messages: list[Message] = field(default_factory=list)
    replies: list[bool | int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifications(self) -> list[Notification]:
        with self.lock:
            return [n for m in self.messages for n in m.notifications]


def parse_message(body: bytes, headers: dict[str, str]) -> Message:
    root = SafeET.fromstring(body)
    ns = {"o": OUTBOUND_NS, "sf": SOBJECT_NS}
    node = root.find(".//o:notifications", ns)
    assert node is not None, body
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    xsi_nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    notifications = []
    for item in node.findall("o:Notification", ns):
        sobject = item.find("o:sObject", ns)
        assert sobject is not None
        fields = {child.tag.split("}", 1)[1]: child.text or "" for child in sobject}
        notifications.append(
            Notification(
                item.findtext("o:Id", namespaces=ns) or "", sobject.get(xsi_type, ""), fields
            )
        )
    session = node.find("o:SessionId", ns)
    return Message(
        headers=headers,
        organization_id=node.findtext("o:OrganizationId", namespaces=ns) or "",
        action_id=node.findtext("o:ActionId", namespaces=ns) or "",
        session_nil=session is not None and session.get(xsi_nil) == "true",
        notifications=notifications,
    )


@pytest.fixture
def outbound_listener() -> Iterator[OutboundListener]:
    listener = OutboundListener()

    async def receive(request: Request) -> Response:
        message = parse_message(await request.body(), dict(request.headers))
        with listener.lock:
            listener.messages.append(message)
            reply = listener.replies.pop(0) if listener.replies else True
        if reply is True:
            return Response(ack_response(True), media_type="text/xml")
        if reply is False:
            return Response(ack_response(False), media_type="text/xml")
        return Response("unavailable", status_code=int(reply))

    app = Starlette(routes=[Route("/outbound", receive, methods=["POST"])])
    with ServerThread(app) as server:
        listener.url = f"{server.url}/outbound"
        yield listener
