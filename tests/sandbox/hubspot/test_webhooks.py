"""Webhooks delivered to a real local HTTP receiver: signatures checked with the SDK's own
Signature.is_valid, event shapes, retries until acknowledged, and drop/duplicate/reorder."""

from __future__ import annotations

import json

from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.utils.signature import Signature

from sandbox.hubspot import HubSpotSandbox, WebhookFaults, WebhookSubscription
from tests.sandbox.hubspot.conftest import WebhookReceiver, sdk_client

SECRET = "app-client-secret-123"


def subscribe(sandbox: HubSpotSandbox, receiver: WebhookReceiver, **options) -> WebhookSubscription:  # type: ignore[no-untyped-def]
    subscription = WebhookSubscription(
        target_url=receiver.url, client_secret=SECRET, app_id=4242, **options
    )
    sandbox.subscribe_webhooks(subscription)
    return subscription


def test_signed_events_for_api_and_ui_changes(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    subscribe(hubspot_sandbox, webhook_receiver)
    api = sdk_client(hubspot_sandbox).crm.companies.basic_api
    company = api.create(SimplePublicObjectInputForCreate(properties={"name": "Acme"}))
    assert hubspot_sandbox.flush_webhooks(5)
    hubspot_sandbox.update("companies", company.id, {"city": "Oslo", "phone": "+47 1"})
    assert hubspot_sandbox.flush_webhooks(5)

    assert len(webhook_receiver.received) == 2
    for request in webhook_receiver.received:
        headers = request.headers
        assert Signature.is_valid(
            signature=headers["x-hubspot-signature-v3"], client_secret=SECRET, request_body=request.body,
            http_uri=request.url, signature_version="v3", timestamp=headers["x-hubspot-request-timestamp"],
        )  # fmt: skip
        assert headers["x-hubspot-signature-version"] == "v1"
        assert Signature.is_valid(
            signature=headers["x-hubspot-signature"], client_secret=SECRET, request_body=request.body,
            signature_version="v1",
        )  # fmt: skip
        assert not Signature.is_valid(
            signature=headers["x-hubspot-signature"], client_secret="wrong", request_body=request.body,
            signature_version="v1",
        )  # fmt: skip
    creation, *changes = webhook_receiver.events()
    assert creation["subscriptionType"] == "company.creation"
    assert creation["changeSource"] == "API" and creation["objectId"] == int(company.id)
    assert creation["portalId"] == hubspot_sandbox.portal_id and creation["appId"] == 4242
    assert creation["attemptNumber"] == 0 and isinstance(creation["occurredAt"], int)
    assert {"eventId", "subscriptionId"} <= set(creation)
    # One propertyChange per changed property; none for the last-modified date.
    assert sorted((e["propertyName"], e["propertyValue"], e["changeSource"]) for e in changes) == [
        ("city", "Oslo", "CRM_UI"), ("phone", "+47 1", "CRM_UI"),
    ]  # fmt: skip


def test_lifecycle_events(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    primary = hubspot_sandbox.create("companies", {"name": "P"})["id"]
    other = hubspot_sandbox.create("companies", {"name": "O", "city": "Rome"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "l@x.test"})["id"]
    subscribe(hubspot_sandbox, webhook_receiver, event_types=frozenset(
        {"company.merge", "company.deletion", "company.restore", "contact.associationChange"}
    ))  # fmt: skip
    hubspot_sandbox.associate(contact, other, primary=True)
    new = hubspot_sandbox.merge("companies", primary, other)["id"]
    hubspot_sandbox.archive("companies", new)
    hubspot_sandbox.restore("companies", new)
    assert hubspot_sandbox.flush_webhooks(5)
    by_type: dict[str, list[dict]] = {}
    for event in webhook_receiver.events():
        by_type.setdefault(event["subscriptionType"], []).append(event)
    assert set(by_type) == {
        "company.merge",
        "company.deletion",
        "company.restore",
        "contact.associationChange",
    }
    merge = by_type["company.merge"][0]
    assert merge["primaryObjectId"] == int(primary) and merge["mergedObjectIds"] == [int(other)]
    # A merge makes a new record: the event is the new record's, and names all three.
    assert merge["objectId"] == merge["newObjectId"] == int(new) != int(primary)
    assert merge["numberOfPropertiesMoved"] == 1
    assert by_type["company.deletion"][0]["objectId"] == int(new)
    association = by_type["contact.associationChange"][0]
    assert association["associationType"] == "CONTACT_TO_COMPANY"
    assert (association["fromObjectId"], association["toObjectId"]) == (int(contact), int(other))
    assert (
        association["isPrimaryAssociation"] is True and association["associationRemoved"] is False
    )


def test_batches_hold_at_most_100_events(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    subscribe(hubspot_sandbox, webhook_receiver, event_types=frozenset({"company.creation"}))
    batch = HubSpot(
        access_token=hubspot_sandbox.access_token, host=hubspot_sandbox.url
    ).crm.companies.batch_api
    for start in range(0, 250, 100):
        inputs = [{"properties": {"name": f"C{i}"}} for i in range(start, min(start + 100, 250))]
        batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert hubspot_sandbox.flush_webhooks(5)
    sizes = [len(json.loads(r.body)) for r in webhook_receiver.received]
    assert max(sizes) <= 100 and sum(sizes) == 250
    assert len({e["objectId"] for e in webhook_receiver.events()}) == 250
    assert hubspot_sandbox.faults.deliveries["delivered"] == 250


def test_retried_until_acknowledged(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    subscribe(hubspot_sandbox, webhook_receiver)
    webhook_receiver.statuses = [500, 503, 429]
    hubspot_sandbox.create("companies", {"name": "Retry"})
    assert hubspot_sandbox.flush_webhooks(5)
    attempts = [json.loads(r.body)[0]["attemptNumber"] for r in webhook_receiver.received]
    assert attempts == [0, 1, 2, 3]
    ids = {json.loads(r.body)[0]["eventId"] for r in webhook_receiver.received}
    assert len(ids) == 1  # a retry is the same event
    assert hubspot_sandbox.faults.deliveries["delivered"] == 1


def test_client_errors_are_not_retried(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    subscribe(hubspot_sandbox, webhook_receiver)
    webhook_receiver.statuses = [400]
    hubspot_sandbox.create("companies", {"name": "Rejected"})
    assert hubspot_sandbox.flush_webhooks(5)
    assert len(webhook_receiver.received) == 1
    assert hubspot_sandbox.faults.deliveries == {"failed": 1}


def test_unreachable_target_is_retried_ten_times(make_hubspot_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(webhook_retry_scale=1e-5)
    sandbox.subscribe_webhooks(
        WebhookSubscription(target_url="http://127.0.0.1:9/nowhere", client_secret=SECRET)
    )
    sandbox.create("companies", {"name": "Lost"})
    assert sandbox.flush_webhooks(10)
    assert sandbox.faults.deliveries == {"failed": 1}


def test_drop_and_duplicate_faults(make_hubspot_sandbox, webhook_receiver: WebhookReceiver) -> None:  # type: ignore[no-untyped-def]
    dropping = make_hubspot_sandbox(webhook_faults=WebhookFaults(drop=1.0))
    subscribe(dropping, webhook_receiver)
    dropping.create("companies", {"name": "Dropped"})
    assert dropping.flush_webhooks(5)
    assert webhook_receiver.received == [] and dropping.faults.deliveries == {"dropped": 1}

    doubling = make_hubspot_sandbox(webhook_faults=WebhookFaults(duplicate=1.0))
    subscribe(doubling, webhook_receiver)
    company = doubling.create("companies", {"name": "Twice"})
    assert doubling.flush_webhooks(5)
    events = webhook_receiver.events()
    assert [e["objectId"] for e in events] == [int(company["id"])] * 2
    assert events[0]["eventId"] == events[1]["eventId"]
    assert doubling.faults.deliveries == {"duplicated": 1, "delivered": 2}


def test_reorder_fault_delivers_later_events_first(
    make_hubspot_sandbox, webhook_receiver: WebhookReceiver
) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(
        webhook_faults=WebhookFaults(reorder=0.5, reorder_delay_s=0.2), seed=5
    )
    subscribe(sandbox, webhook_receiver, property_names=frozenset({"city"}))
    company = sandbox.create("companies", {"name": "Moving"})
    client = sdk_client(sandbox).crm.companies.basic_api
    for city in ("A", "B", "C", "D", "E", "F", "G", "H"):
        client.update(company["id"], SimplePublicObjectInput(properties={"city": city}))
    assert sandbox.flush_webhooks(5)
    changes = [
        e for e in webhook_receiver.events() if e["subscriptionType"] == "company.propertyChange"
    ]
    assert sorted(e["propertyValue"] for e in changes) == list("ABCDEFGH")
    received = [e["occurredAt"] for e in changes]
    assert received != sorted(received)  # out of order; occurredAt is how a receiver restores it


def test_subscription_over_admin_endpoint(
    hubspot_sandbox: HubSpotSandbox, webhook_receiver: WebhookReceiver
) -> None:
    import httpx

    with httpx.Client(base_url=hubspot_sandbox.url) as admin:
        body = {
            "targetUrl": webhook_receiver.url,
            "clientSecret": SECRET,
            "eventTypes": ["contact.creation"],
        }
        assert admin.put("/__sandbox/hubspot/webhooks/subscription", json=body).status_code == 200
        admin.post(
            "/__sandbox/hubspot/objects/contacts", json={"properties": {"email": "a@b.test"}}
        )
        admin.post("/__sandbox/hubspot/objects/companies", json={"properties": {"name": "Ignored"}})
        assert admin.post("/__sandbox/hubspot/webhooks/flush?timeout=5").json() == {"flushed": True}
    assert [e["subscriptionType"] for e in webhook_receiver.events()] == ["contact.creation"]
    assert webhook_receiver.events()[0]["changeSource"] == "CRM_UI"


def test_gives_up_after_ten_retries(
    make_hubspot_sandbox, webhook_receiver: WebhookReceiver
) -> None:  # type: ignore[no-untyped-def]
    sandbox = make_hubspot_sandbox(webhook_retry_scale=1e-5)
    subscribe(sandbox, webhook_receiver)
    webhook_receiver.statuses = [502] * 20
    sandbox.create("companies", {"name": "Never"})
    assert sandbox.flush_webhooks(10)
    attempts = [json.loads(r.body)[0]["attemptNumber"] for r in webhook_receiver.received]
    assert attempts == list(range(11))  # the first try and ten retries
    assert sandbox.faults.deliveries == {"failed": 1}
