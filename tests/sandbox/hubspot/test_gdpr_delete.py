"""GDPR delete of contacts through the SDK (``basic_api.purge``): the contact is gone for
good, not in the recycle bin like an archived one, and its associations go with it."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    PublicGdprDeleteInput,
    SimplePublicObjectInputForCreate,
)

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.errors import HubSpotError


def test_gdpr_delete_is_permanent(hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot) -> None:
    company = hubspot_sandbox.create("companies", {"name": "Acme"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "gone@x.test"}, company_id=company)["id"]
    basic = hubspot_client.crm.contacts.basic_api

    basic.purge(PublicGdprDeleteInput(object_id=contact))

    with pytest.raises(ApiException) as live:
        basic.get_by_id(contact)
    assert live.value.status == 404
    with pytest.raises(ApiException) as archived:
        basic.get_by_id(contact, archived=True)
    assert archived.value.status == 404
    assert hubspot_sandbox.get("contacts", contact) is None
    assert hubspot_sandbox.get("companies", company)["associations"]["contacts"] == []
    # The email is free again for a new contact.
    basic.create(SimplePublicObjectInputForCreate(properties={"email": "gone@x.test"}))

    with pytest.raises(ApiException) as twice:
        basic.purge(PublicGdprDeleteInput(object_id=contact))
    assert twice.value.status == 404


def test_gdpr_delete_by_email_and_of_an_archived_contact(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    basic = hubspot_client.crm.contacts.basic_api
    by_email = hubspot_sandbox.create("contacts", {"email": "Mail@x.test"})["id"]
    basic.purge(PublicGdprDeleteInput(object_id="mail@x.test", id_property="email"))
    assert hubspot_sandbox.get("contacts", by_email) is None
    # An unknown address is not an error: HubSpot blocklists it.
    basic.purge(PublicGdprDeleteInput(object_id="never@x.test", id_property="email"))

    binned = hubspot_sandbox.create("contacts", {"email": "bin@x.test"})["id"]
    hubspot_sandbox.archive("contacts", binned)
    basic.purge(PublicGdprDeleteInput(object_id=binned))
    assert hubspot_sandbox.ids("contacts", archived=True) == []
    with pytest.raises(HubSpotError):
        hubspot_sandbox.restore("contacts", binned)


def test_gdpr_delete_sends_a_privacy_deletion_event(
    make_hubspot_sandbox,
    webhook_receiver,  # type: ignore[no-untyped-def]
) -> None:
    from sandbox.hubspot import WebhookSubscription
    from tests.sandbox.hubspot.conftest import sdk_client

    sandbox = make_hubspot_sandbox(
        webhook_subscription=WebhookSubscription(target_url=webhook_receiver.url,
                                                 event_types=frozenset({"contact.privacyDeletion"}))
    )  # fmt: skip
    contact = sandbox.create("contacts", {"email": "e@x.test"})["id"]
    sdk_client(sandbox).crm.contacts.basic_api.purge(PublicGdprDeleteInput(object_id=contact))
    assert sandbox.flush_webhooks()
    events = webhook_receiver.events()
    assert [(e["subscriptionType"], str(e["objectId"])) for e in events] == [
        ("contact.privacyDeletion", contact)
    ]
