"""The admin endpoints under /__sandbox/salesforce/, used by processes that only have a URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError

from sandbox.salesforce import SalesforceSandbox

from .conftest import OutboundListener


@pytest.fixture
def admin(sf_sandbox: SalesforceSandbox) -> Iterator[tuple[requests.Session, str]]:
    with sf_sandbox.http_session() as session:
        yield session, f"{sf_sandbox.url}/__sandbox/salesforce"


def test_credentials_and_sessions(
    sf_sandbox: SalesforceSandbox, admin: tuple[requests.Session, str]
) -> None:
    session, base = admin
    credentials = session.get(f"{base}/credentials").json()
    assert credentials["org_id"] == sf_sandbox.org_id and credentials["org_id"].startswith("00D")
    assert credentials["token_url"] == sf_sandbox.token_url
    token = session.post(f"{base}/sessions").json()["access_token"]
    sf = sf_sandbox.client(token)
    sf.limits()
    assert session.post(f"{base}/sessions/expire").status_code == 200
    with pytest.raises(SalesforceExpiredSession):
        sf.limits()
    session.post(f"{base}/refresh-token/revoke")
    form = {
        "grant_type": "refresh_token",
        "client_id": credentials["consumer_key"],
        "refresh_token": credentials["refresh_token"],
    }
    assert session.post(credentials["token_url"], data=form).json()["error"] == "invalid_grant"


def test_records_as_a_user_would_change_them(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, admin: tuple[requests.Session, str]
) -> None:
    session, base = admin
    master = session.post(f"{base}/records/Account", json={"Name": "Master"}).json()["id"]
    loser = session.post(f"{base}/records/Account", json={"Name": "Loser"}).json()["id"]
    contact = session.post(
        f"{base}/records/Contact", json={"LastName": "Nguyen", "AccountId": loser}
    ).json()["id"]
    bad = session.post(f"{base}/records/Contact", json={"FirstName": "No Last"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    before = sf.Account.get(master)
    assert (
        session.patch(
            f"{base}/records/Account/{master}?system=true", json={"Phone": "9"}
        ).status_code
        == 204
    )
    after = session.get(f"{base}/records/Account/{master}").json()
    assert after["Phone"] == "9" and after["LastModifiedDate"] == before["LastModifiedDate"]
    merge = {"master_id": master, "loser_ids": [loser]}
    assert session.post(f"{base}/records/Account/merge", json=merge).status_code == 204
    assert sf.Contact.get(contact)["AccountId"] == master
    assert session.get(f"{base}/records/Account/{loser}").json()["MasterRecordId"] == master
    assert session.delete(f"{base}/records/Account/{master}").status_code == 204
    assert session.get(f"{base}/records/Account?include_deleted=false").json() == []
    assert session.post(f"{base}/records/Account/{master}/undelete").status_code == 204
    live = session.get(f"{base}/records/Account?include_deleted=false").json()
    assert [r["Id"] for r in live] == [master]
    assert sf.Contact.get(contact)["IsDeleted"] is False  # restored with its account
    seeded = session.post(f"{base}/seed", json={"count": 5, "contacts_per_company": 2}).json()
    assert len(seeded["account_ids"]) == 5
    assert sf.query("SELECT COUNT() FROM Contact WHERE AccountId != null")["totalSize"] == 11


def test_faults_counters_and_usage(
    sf_sandbox: SalesforceSandbox, sf: Salesforce, admin: tuple[requests.Session, str]
) -> None:
    session, base = admin
    session.post(f"{base}/faults", json={"endpoint": "limits", "status": 502, "remaining": 1})
    assert session.get(f"{base}/faults").json()[0]["endpoint"] == "limits"
    with pytest.raises(SalesforceGeneralError):
        sf.limits()
    sf.limits()
    assert session.get(f"{base}/counters").json()["calls"]["limits"] == 2
    assert session.post(f"{base}/counters/reset").json()["calls"] == {}
    assert session.delete(f"{base}/faults").json() == []
    assert session.post(f"{base}/api-usage", json={"used": 1234}).json() == {
        "used": 1234,
        "max": 100_000,
    }
    sf.limits()
    assert sf.api_usage["api-usage"] == (1235, 100_000)


def test_outbound_registration_over_http(
    sf_sandbox: SalesforceSandbox,
    sf: Salesforce,
    admin: tuple[requests.Session, str],
    outbound_listener: OutboundListener,
) -> None:
    session, base = admin
    registration = session.post(
        f"{base}/outbound",
        json={
            "endpoint_url": outbound_listener.url,
            "object": "Contact",
            "fields": ["LastName", "Email"],
        },
    ).json()
    assert registration["fields"] == ["Id", "LastName", "Email"]
    sf.Contact.create({"LastName": "Silva", "Email": "silva@example.com"})
    assert session.post(f"{base}/outbound/flush", json={"timeout": 5}).json() == {"flushed": True}
    [notification] = outbound_listener.notifications()
    assert notification.fields["Email"] == "silva@example.com"
    session.delete(f"{base}/outbound/{registration['id']}")
    assert session.get(f"{base}/outbound").json() == []
    bad = session.post(
        f"{base}/outbound", json={"endpoint_url": "http://x", "object": "Lead", "fields": []}
    )
    assert bad.status_code == 400
