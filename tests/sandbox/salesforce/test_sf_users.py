"""The User sObject through the unchanged simple-salesforce client: the API user and the
seeded sales reps, queryable by email; read-only through the API."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceError, format_soql

from sandbox.salesforce import SalesforceSandbox
from sandbox.seed import SALES_REPS


def test_users_are_queryable_by_email(sf: Salesforce, sf_sandbox: SalesforceSandbox) -> None:
    rep = SALES_REPS[1]
    soql = format_soql(
        "SELECT Id, Name, Email, IsActive FROM User WHERE Email = {}", rep.email.upper()
    )
    records = sf.query(soql)["records"]
    assert [(r["Name"], r["Email"], r["IsActive"]) for r in records] == [
        (f"{rep.first_name} {rep.last_name}", rep.email, True)
    ]
    assert records[0]["Id"].startswith("005") and len(records[0]["Id"]) == 18
    everyone = sf.query("SELECT Email FROM User ORDER BY Email")["records"]
    assert len(everyone) == len(SALES_REPS) + 1  # and the API user


def test_a_deactivated_user_is_filtered_by_is_active(
    sf: Salesforce, sf_sandbox: SalesforceSandbox
) -> None:
    user_id = sf_sandbox.add_user("temp@crmsync.example", "Temp", "Rep")
    sf_sandbox.deactivate_user(user_id)
    soql = format_soql(
        "SELECT Id FROM User WHERE Email = {} AND IsActive = true", "temp@crmsync.example"
    )
    assert sf.query(soql)["records"] == []


def test_users_cannot_be_created_through_the_api(sf: Salesforce) -> None:
    with pytest.raises(SalesforceError):
        sf.User.create({"LastName": "Mallory", "Email": "m@x.example", "Username": "m@x.example"})
