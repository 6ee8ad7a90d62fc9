"""Reading CRM records into local values and writing local values as CRM properties."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mappings.engine import (
    fingerprint,
    is_echo,
    local_changes,
    remote_fingerprint,
    snapshot,
    to_local,
    to_remote,
)
from mappings.errors import RemoteValueError
from mappings.loader import load_map, parse_map
from mappings.spec import Rule

HUBSPOT_COMPANY = {
    "name": "  Acme   GmbH ",
    "domain": "WWW.Acme.de",
    "website": "acme.de",
    "phone": "030 1234567",
    "address": "Hauptstr. 1",
    "address2": "",
    "city": "Berlin",
    "state": None,
    "zip": "10115",
    "country": "Germany",
    "industry": "COMPUTER_SOFTWARE",
    "description": "  Long-time customer.\n\nPays on time.  ",
    "vat_number": "de 123 456 789",
    "crmsync_payment_terms_days": "30",
    "crmsync_credit_limit": "25000.50",
    "crmsync_archived": "false",
    "crmsync_status": "",  # blank: not known, the directory keeps its status
    "hs_object_id": "123",  # not in the map
}


def test_a_hubspot_company_reads_in_the_directorys_normal_form() -> None:
    values = to_local(load_map("hubspot", "company"), HUBSPOT_COMPANY)
    assert values == {
        "name": "Acme GmbH",
        "domain": "acme.de",
        "website": "https://acme.de",
        # National number read in the record's own country.
        "phone": "+49301234567",
        "billing_street": "Hauptstr. 1",
        "billing_street2": None,
        "billing_city": "Berlin",
        "billing_region": None,
        "billing_postal_code": "10115",
        "billing_country": "DE",
        "category": "technology",
        "subcategory": "software",
        "notes": "Long-time customer.\n\nPays on time.",
        "tax_id": "DE123456789",
        "payment_terms_days": 30,
        "credit_limit": "25000.5",
        "archived": False,
    }


def test_a_salesforce_account_splits_street_lines_and_fills_website_and_domain() -> None:
    values = to_local(
        load_map("salesforce", "account"),
        {
            "Name": "Acme Inc.",
            "Website": "https://www.acme.com/about",
            "BillingStreet": "1 Main St\nSuite 5",
            "BillingCountry": "United States",
            "ShippingStreet": None,
            "Industry": "Banking",
        },
    )
    assert values == {
        "name": "Acme Inc.",
        "website": "https://www.acme.com/about",
        "domain": "acme.com",
        "billing_street": "1 Main St",
        "billing_street2": "Suite 5",
        "billing_country": "US",
        "shipping_street": None,
        "shipping_street2": None,
        "category": "finance",
        "subcategory": "banking",
    }


def test_contacts_read_emails_lower_case_and_phones_in_the_given_region() -> None:
    values = to_local(
        load_map("hubspot", "contact"),
        {"firstname": "Anna", "email": "Anna.Muller@Acme.DE", "mobilephone": "0151 23456789"},
        region="DE",
    )
    assert values == {
        "first_name": "Anna",
        "email": "anna.muller@acme.de",
        "mobile_phone": "+4915123456789",
    }


def test_unreadable_values_are_named_and_the_rest_is_kept() -> None:
    with pytest.raises(RemoteValueError) as caught:
        to_local(
            load_map("hubspot", "contact"),
            {"firstname": "", "lastname": "Smith", "email": "not-an-email"},
        )
    assert set(caught.value.problems) == {"first_name", "email"}
    assert "is required" in caught.value.problems["first_name"]
    assert "not-an-email" in caught.value.problems["email"]
    assert caught.value.accepted == {"last_name": "Smith"}


def test_an_unknown_industry_is_a_problem_not_a_guess() -> None:
    with pytest.raises(RemoteValueError, match="'ZOOLOGY' is not in value map"):
        to_local(load_map("hubspot", "company"), {"industry": "ZOOLOGY"})


LOCAL_CUSTOMER = {
    "name": "Acme GmbH",
    "website": None,
    "domain": "acme.de",
    "phone": "+49301234567",
    "billing_street": "Hauptstr. 1",
    "billing_street2": "Hinterhaus",
    "billing_city": "Berlin",
    "billing_region": None,
    "billing_postal_code": "10115",
    "billing_country": "DE",
    "shipping_street": None,
    "shipping_street2": None,
    "shipping_city": None,
    "shipping_region": None,
    "shipping_postal_code": None,
    "shipping_country": None,
    "category": "healthcare",
    "subcategory": "medical_devices",
    "notes": None,
    "tax_id": "DE123456789",
    "custom_properties": {"segment": "smb"},
}


def test_to_remote_writes_crm_forms_and_never_a_dont_sync_field() -> None:
    shipped = load_map("salesforce", "account")
    off = tuple(
        replace(entry, rule=Rule.DONT_SYNC) if entry.key == "tax_id" else entry
        for entry in shipped.fields
    )
    properties = to_remote(replace(shipped, fields=off), LOCAL_CUSTOMER)
    assert properties == {
        "Name": "Acme GmbH",
        "Website": "https://acme.de",
        "Phone": "+49301234567",
        "BillingStreet": "Hauptstr. 1\nHinterhaus",
        "BillingCity": "Berlin",
        "BillingState": None,
        "BillingPostalCode": "10115",
        "BillingCountry": "Germany",
        "ShippingStreet": None,
        "ShippingCity": None,
        "ShippingState": None,
        "ShippingPostalCode": None,
        "ShippingCountry": None,
        "Industry": "Healthcare",  # no exact value: the category's
        "Description": None,
    }


def test_to_remote_for_a_create_leaves_blanks_out_and_writes_hubspot_blanks_as_empty() -> None:
    hubspot = load_map("hubspot", "company")
    assert to_remote(hubspot, {"name": "Acme", "notes": None}) == {
        "name": "Acme",
        "description": "",
    }
    assert to_remote(hubspot, {"name": "Acme", "notes": None}, skip_blank=True) == {"name": "Acme"}


def test_a_required_blank_is_never_written() -> None:
    salesforce = load_map("salesforce", "contact")
    assert to_remote(salesforce, {"first_name": "Anna", "last_name": None}) == {"FirstName": "Anna"}


CUSTOM_MAP = parse_map(
    {
        "provider": "salesforce",
        "object": "account",
        "local": "customer",
        "blank": None,
        "fields": [
            {"local": "name", "remote": "Name"},
            {"local": "custom_properties.segment", "remote": "Segment__c"},
            {"local": "tax_id", "remote": "VAT_Number__c"},
        ],
    },
    source="custom.yaml",
)


def test_custom_properties_map_to_keys_of_the_custom_properties_dict() -> None:
    assert to_remote(CUSTOM_MAP, LOCAL_CUSTOMER) == {
        "Name": "Acme GmbH",
        "Segment__c": "smb",
        "VAT_Number__c": "DE123456789",
    }
    read = to_local(CUSTOM_MAP, {"Segment__c": " enterprise ", "VAT_Number__c": "de 123.456"})
    assert read == {"custom_properties.segment": "enterprise", "tax_id": "DE123456"}
    assert snapshot(CUSTOM_MAP, LOCAL_CUSTOMER) == {
        "name": "Acme GmbH",
        "custom_properties.segment": "smb",
        "tax_id": "DE123456789",
    }


def test_local_changes_merge_custom_keys_into_the_dict() -> None:
    current = {"custom_properties": {"segment": "smb", "owner": "kim"}}
    changes = local_changes(
        CUSTOM_MAP, {"name": "Acme AG", "custom_properties.segment": None}, current
    )
    assert changes == {"name": "Acme AG", "custom_properties": {"owner": "kim"}}
    assert current == {"custom_properties": {"segment": "smb", "owner": "kim"}}  # untouched


def test_local_changes_keep_a_separately_owned_domain_when_the_website_changes() -> None:
    hubspot = load_map("hubspot", "company")
    changes = local_changes(hubspot, {"website": "https://acme.com/de"}, {"domain": "acme.de"})
    assert changes == {"website": "https://acme.com/de", "domain": "acme.de"}


def test_fingerprint_is_stable_and_sensitive_to_values_only() -> None:
    assert fingerprint({"a": "1", "b": None}) == fingerprint({"b": "", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    assert fingerprint({"a": "1"}) != fingerprint({"b": "1"})
    assert len(fingerprint({})) == 64


def test_a_record_holding_what_we_wrote_is_an_echo() -> None:
    hubspot = load_map("hubspot", "contact")
    local = {
        "first_name": "Anna",
        "last_name": "Smith",
        "email": "anna@acme.de",
        "phone": "+49301234567",
        "mobile_phone": None,
        "job_title": "CFO",
        "roles": ["billing", "order"],
    }
    written = to_remote(hubspot, local)
    assert written["crmsync_roles"] == "billing;order"
    base_fingerprint = fingerprint(snapshot(hubspot, local))
    # The CRM formats the number its own way and adds its own properties: still an echo.
    came_back = {**written, "phone": "+49 30 1234567", "lastmodifieddate": "2026-01-01T00:00:00Z"}
    assert is_echo(hubspot, came_back, base_fingerprint)
    assert not is_echo(hubspot, {**came_back, "jobtitle": "CEO"}, base_fingerprint)
    # A missing property means "merge to find out", never "unchanged".
    partial = {k: v for k, v in came_back.items() if k != "email"}
    assert remote_fingerprint(hubspot, partial) is None
    assert not is_echo(hubspot, partial, base_fingerprint)
    assert not is_echo(hubspot, came_back, None)


def test_amounts_days_and_flags_compare_as_values_whatever_their_form() -> None:
    """The base comes back from the database as JSON and Salesforce answers numbers as
    doubles: a customer whose values did not change merges to nothing, and its base is
    JSON again."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from mappings.merge import merge

    salesforce = load_map("salesforce", "account")
    columns = {
        "credit_limit": Decimal("25000.00"),
        "payment_terms_days": 30,
        "archived_at": None,
        "status": "blocked",
    }
    remote = {
        "Credit_Limit__c": 25000.0,
        "Payment_Terms_Days__c": 30.0,
        "Archived__c": False,
        "Customer_Status__c": "Blocked",
    }
    first = merge(salesforce, base={}, local=columns, remote=remote)
    assert not first.local_writes and not first.remote_writes and not first.conflicts
    base = json.loads(json.dumps(first.base))
    assert base["credit_limit"] == "25000" and base["archived"] is False
    again = merge(salesforce, base=base, local=columns, remote=remote)
    assert not again.changed and again.fingerprint == first.fingerprint
    # A change in the CRM comes back as the directory's value; one made locally goes out.
    changed_remote = {**remote, "Credit_Limit__c": 30000.5, "Archived__c": True}
    edited = merge(salesforce, base=base, local=columns, remote=changed_remote)
    assert edited.local_writes == {"credit_limit": "30000.5", "archived": True}
    changed_local = {**columns, "archived_at": datetime.now(UTC), "payment_terms_days": 14}
    pushed = merge(salesforce, base=base, local=changed_local, remote=remote)
    assert pushed.remote_writes == {"Archived__c": "true", "Payment_Terms_Days__c": "14"}


def test_tags_read_as_a_sorted_set_and_a_tag_the_directory_refuses_is_a_problem() -> None:
    company = load_map("hubspot", "company")
    read = to_local(company, {"name": "Acme", "crmsync_tags": " VIP; eu,vip ;Key  Account"})
    assert read["tags"] == ["eu", "key account", "vip"]
    assert to_remote(company, read)["crmsync_tags"] == "eu;key account;vip"
    assert to_local(company, {"name": "Acme", "crmsync_tags": ""})["tags"] == []
    with pytest.raises(RemoteValueError) as caught:
        to_local(company, {"name": "Acme", "crmsync_tags": "eu;" + "x" * 60})
    assert set(caught.value.problems) == {"tags"} and "limit is 50" in caught.value.problems["tags"]


def test_a_blank_crm_tax_rate_is_not_known_and_a_rate_reads_exactly() -> None:
    """The directory always holds a rate (0.00 by default): a blank in the CRM says
    nothing (``on_blank: keep``), so it neither clears the rate nor reads as 0."""
    for provider, object_type, remote in (
        ("hubspot", "company", "crmsync_tax_rate"),
        ("salesforce", "account", "Tax_Rate__c"),
    ):
        mapped = load_map(provider, object_type)
        assert mapped.entry("tax_rate").keep_on_blank
        assert "tax_rate" not in to_local(mapped, {"name": "Acme", remote: mapped.blank})
        assert to_local(mapped, {"name": "Acme", remote: 8.875})["tax_rate"] == "8.875"
        assert to_local(mapped, {"name": "Acme", remote: "19.0"})["tax_rate"] == "19"
