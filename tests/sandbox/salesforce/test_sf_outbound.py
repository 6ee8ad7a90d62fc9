"""Outbound Messages delivered to a real local listener over HTTP, parsed with defusedxml."""

from __future__ import annotations

import time

from simple_salesforce import Salesforce

from sandbox.faults import FaultRule
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.soap import ack_response, is_ack

from .conftest import OutboundListener


def settle() -> None:
    """Let queued notifications pass their (scaled) batching window before resuming."""
    time.sleep(0.05)


def test_changes_are_notified_with_the_chosen_fields(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    registration = sf_sandbox.register_outbound(
        outbound_listener.url, "Account", ["Name", "CrmsyncId__c", "Phone"]
    )
    account_id = sf.Account.create({"Name": "Zoë & Söhne <GmbH>", "CrmsyncId__c": "c-1"})["id"]
    assert sf_sandbox.flush_outbound(5)
    [message] = outbound_listener.messages
    assert message.organization_id == sf_sandbox.org_id and message.action_id == registration.id
    assert message.session_nil is True
    assert message.headers["content-type"] == "text/xml; charset=utf-8"
    assert message.headers["soapaction"] == '""'
    [notification] = message.notifications
    assert notification.object_type == "sf:Account"
    # Null fields (Phone) are left out, as Salesforce does.
    assert notification.fields == {
        "Id": account_id,
        "Name": "Zoë & Söhne <GmbH>",
        "CrmsyncId__c": "c-1",
    }
    assert notification.notification_id.startswith("04l")
    # Admin edits ("a user in Salesforce") notify too; contacts do not match this rule.
    sf_sandbox.update("Account", account_id, {"Phone": "+1 555"})
    sf.Contact.create({"LastName": "Murphy", "AccountId": account_id})
    assert sf_sandbox.flush_outbound(5)
    assert [n.fields.get("Phone") for n in outbound_listener.notifications()] == [None, "+1 555"]


def test_payload_carries_latest_values_and_unique_ids(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    sf_sandbox.register_outbound(outbound_listener.url, "Contact", ["LastName"])
    sf_sandbox.pause_outbound()
    contact_id = sf.Contact.create({"LastName": "First"})["id"]
    sf.Contact.update(contact_id, {"LastName": "Second"})
    sf.Contact.update(contact_id, {"LastName": "Third"})
    settle()
    sf_sandbox.resume_outbound()
    assert sf_sandbox.flush_outbound(5)
    notifications = outbound_listener.notifications()
    assert len(outbound_listener.messages) == 1 and len(notifications) == 3
    assert {n.fields["LastName"] for n in notifications} == {"Third"}
    assert len({n.notification_id for n in notifications}) == 3


def test_at_most_100_notifications_per_message(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    sf_sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
    sf_sandbox.pause_outbound()
    records = [{"attributes": {"type": "Account"}, "Name": f"N{n}"} for n in range(150)]
    sf.restful("composite/sobjects", method="POST", json={"records": records})
    settle()
    sf_sandbox.resume_outbound()
    assert sf_sandbox.flush_outbound(5)
    assert [len(m.notifications) for m in outbound_listener.messages] == [100, 50]


def test_resent_with_backoff_until_acknowledged(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    outbound_listener.replies = [503, False, 200]  # unavailable, Ack false, 200 without SOAP
    sf_sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
    sf.Account.create({"Name": "Retry Me"})
    assert sf_sandbox.flush_outbound(10)
    attempts = outbound_listener.notifications()
    assert len(attempts) == 4
    assert len({n.notification_id for n in attempts}) == 1  # the same notification each time
    deliveries = sf_sandbox.faults.snapshot()["deliveries"]
    assert deliveries["nacked"] == 3 and deliveries["acked"] == 1


def test_dropped_after_a_day_of_failures(outbound_listener: OutboundListener) -> None:
    # A day scaled down to about 1.7 s; the listener never acknowledges.
    outbound_listener.replies = [500] * 10_000
    with SalesforceSandbox(outbound_time_scale=0.00002) as sandbox:
        sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
        sandbox.create("Account", {"Name": "Never Acked"})
        assert sandbox.flush_outbound(10)
        deliveries = sandbox.faults.snapshot()["deliveries"]
        assert deliveries["expired"] == 1 and deliveries.get("acked", 0) == 0
        assert deliveries["nacked"] >= 5  # exponential gaps: several tries, not hundreds
        assert deliveries["nacked"] < 30


def test_drop_fault_loses_a_message_that_is_then_resent(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="outbound.drop", remaining=2))
    sf_sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
    sf.Account.create({"Name": "Lost In Transit"})
    assert sf_sandbox.flush_outbound(5)
    assert len(outbound_listener.messages) == 1
    assert sf_sandbox.faults.snapshot()["deliveries"]["dropped"] == 2


def test_duplicate_fault_delivers_twice(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="outbound.duplicate", remaining=1))
    sf_sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
    sf.Account.create({"Name": "Twice"})
    assert sf_sandbox.flush_outbound(5)
    ids = [n.notification_id for n in outbound_listener.notifications()]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_reorder_fault_sends_newest_first(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, outbound_listener: OutboundListener
) -> None:
    sf_sandbox.faults.add(FaultRule(endpoint="outbound.reorder", remaining=1))
    sf_sandbox.register_outbound(outbound_listener.url, "Account", ["Name"])
    sf_sandbox.pause_outbound()
    for name in ("one", "two", "three"):
        sf.Account.create({"Name": name})
    settle()
    sf_sandbox.resume_outbound()
    assert sf_sandbox.flush_outbound(5)
    assert [len(m.notifications) for m in outbound_listener.messages] == [1, 1, 1]
    assert [n.fields["Name"] for n in outbound_listener.notifications()] == ["three", "two", "one"]


def test_ack_parsing_is_strict_and_safe() -> None:
    assert is_ack(ack_response(True))
    assert not is_ack(ack_response(False))
    assert not is_ack(b"<Ack>true</Ack>")  # not a SOAP envelope
    assert not is_ack(b"not xml")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><Envelope>&lol2;</Envelope>'
    )
    assert not is_ack(bomb)  # defusedxml refuses entity definitions
