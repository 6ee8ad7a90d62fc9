"""Salesforce Outbound Messages through the ASGI app: the token and OrganizationId must
both match, notifications are deduplicated by their Id, and the answer is a SOAP Ack."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from sandbox.salesforce.soap import envelope, is_ack, notification_xml
from tests.worker.webhooks.conftest import (
    ORG_ID,
    SF_TOKEN,
    drain_stub,
    event_rows,
    jobs,
    pending_ids,
)
from worker import shared_state

ACCOUNT_1 = "0015J00000AbCdEAAV"
ACCOUNT_2 = "0015J00000AbCdFAAV"
CONTACT_1 = "0035J00000XyZaBAAV"
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def message(*notifications: tuple[str, str, str], org: str = ORG_ID) -> bytes:
    return envelope(
        organization_id=org, action_id="04k5J000000abcdQAA", session_id=None,
        enterprise_url="https://x/services/Soap/c/59.0", partner_url="https://x/services/Soap/u/59.0",
        notifications=[notification_xml(nid, obj, {"Id": rid, "Name": "Acme & Sons"})
                       for nid, obj, rid in notifications],
    )  # fmt: skip


def post(client: TestClient, body: bytes, token: str = SF_TOKEN, **headers: str) -> Any:
    return client.post(f"/webhooks/salesforce/{token}", content=body, headers={**XML, **headers})


def test_notifications_are_acknowledged_and_enqueued_once(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    body = message(
        ("04l5J000000AAAAQA4", "Account", ACCOUNT_1),
        ("04l5J000000AAABQA4", "Account", ACCOUNT_2),
        ("04l5J000000AAACQA4", "Contact", CONTACT_1),
        ("04l5J000000AAADQA4", "Account", ACCOUNT_1),  # a second edit of the same record
    )
    response = post(client, body)
    assert response.status_code == 200 and is_ack(response.content)
    assert response.headers["content-type"].startswith("text/xml")
    salesforce = connections["salesforce"]
    assert jobs(drain_stub()) == [
        ("sync_pending", [salesforce, "account"]),
        ("sync_pending", [salesforce, "contact"]),
    ]
    assert pending_ids(salesforce, "account") == [ACCOUNT_1, ACCOUNT_2]
    assert pending_ids(salesforce, "contact") == [CONTACT_1]
    shared_state.pending_ids().take(salesforce, "account", lease_s=30)
    # Salesforce resends until it sees the Ack; a resend is acknowledged and not enqueued.
    assert is_ack(post(client, body).content)
    assert drain_stub() == [] and pending_ids(salesforce, "account") == []
    assert event_rows(sessions) == 4


def refusals() -> list[Any]:
    good = message(("04l5J000000AAAAQA4", "Account", ACCOUNT_1))
    return [
        pytest.param(good, "not-a-token", {}, 404, id="unknown-token"),
        pytest.param(good, "x" * 65, {}, 404, id="long-token"),
        pytest.param(message(("04l5J000000AAAAQA4", "Account", ACCOUNT_1), org="00D5J0000000002AAA"), SF_TOKEN, {}, 404, id="wrong-org"),
        pytest.param(b"<notifications", SF_TOKEN, {}, 400, id="malformed-xml"),
        pytest.param(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', SF_TOKEN, {}, 400, id="entities"),
        pytest.param(b'<?xml version="1.0"?><!DOCTYPE Envelope>' + good.split(b"?>", 1)[-1], SF_TOKEN, {}, 400, id="dtd"),
        pytest.param(b"<a/>", SF_TOKEN, {}, 400, id="not-soap"),
        pytest.param(message(), SF_TOKEN, {}, 400, id="no-notifications"),
        pytest.param(good.replace(ACCOUNT_1.encode(), b"1; DROP"), SF_TOKEN, {}, 400, id="bad-record-id"),
        pytest.param(good, SF_TOKEN, {"Content-Type": "application/json"}, 400, id="content-type"),
        pytest.param(good + b" " * 70_000, SF_TOKEN, {}, 413, id="too-large"),
    ]  # fmt: skip


@pytest.mark.parametrize(("body", "token", "headers", "status"), refusals())
def test_refused_messages_enqueue_and_write_nothing(
    client: TestClient, sessions: sessionmaker[Session], body: bytes, token: str,
    headers: dict[str, str], status: int,
) -> None:  # fmt: skip
    response = post(client, body, token, **headers)
    assert response.status_code == status, response.text
    assert not is_ack(response.content)
    assert drain_stub() == []
    assert event_rows(sessions) == 0


def test_other_objects_are_acknowledged_without_a_job(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    body = message(("04l5J000000AAAAQA4", "Opportunity", "0065J00000AbCdEAAV"))
    assert is_ack(post(client, body).content)
    assert drain_stub() == [] and event_rows(sessions) == 0


@pytest.mark.parametrize("token", ["%00", "a%00b", "tok%20en", "%C3%A9"])
def test_a_token_that_cannot_be_one_is_unknown_not_an_outage(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session], token: str
) -> None:
    response = post(client, message(("04l5J000000AAAAQA4", "Account", ACCOUNT_1)), token)
    assert response.status_code == 404 and event_rows(sessions) == 0


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_modstamp_at_the_edge_of_the_calendar_is_acknowledged(
    client: TestClient, connections: dict[str, int], sessions: sessionmaker[Session], stamp: str
) -> None:
    body = envelope(
        organization_id=ORG_ID, action_id="04k5J000000abcdQAA", session_id=None,
        enterprise_url="https://x/services/Soap/c/59.0", partner_url="https://x/services/Soap/u/59.0",
        notifications=[notification_xml("04l5J000000AAAAQA4", "Account",
                                        {"Id": ACCOUNT_1, "SystemModstamp": stamp})],
    )  # fmt: skip
    response = post(client, body)
    assert response.status_code == 200 and is_ack(response.content)  # not resent for a day
    assert event_rows(sessions) == 1
