"""Loading maps: the shipped ones are complete, bad ones fail at load naming file, field
and problem, and connection overrides merge over (or replace) the shipped map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from customers import taxonomy
from mappings.errors import MappingError
from mappings.loader import load_map, load_map_file, shipped_maps
from mappings.spec import Rule
from sandbox.hubspot.properties import INDUSTRY_VALUES as HUBSPOT_INDUSTRIES
from sandbox.salesforce.schema import INDUSTRY_VALUES as SALESFORCE_INDUSTRIES

ADDRESS = ["billing_street", "billing_city", "billing_region", "billing_postal_code"]
CONTACT = {
    "first_name": None,
    "last_name": None,
    "email": "email",
    "phone": "phone",
    "mobile_phone": "phone",
    "job_title": None,
}


def pairs(provider: str, object_type: str) -> dict[str, tuple[str, str, Rule]]:
    """local field -> (CRM property, transform, rule), for every entry."""
    object_map = load_map(provider, object_type)
    return {
        name: (entry.remote, entry.transform, entry.rule)
        for entry in object_map.fields
        for name in entry.local
    }


def test_all_four_shipped_maps_load() -> None:
    assert set(shipped_maps()) == {
        ("hubspot", "company"),
        ("hubspot", "contact"),
        ("salesforce", "account"),
        ("salesforce", "contact"),
    }


def test_hubspot_company_covers_the_shared_fields() -> None:
    fields = pairs("hubspot", "company")
    expected = {
        "name": "name",
        "domain": "domain",
        "website": "website",
        "phone": "phone",
        "billing_street": "address",
        "billing_street2": "address2",
        "billing_city": "city",
        "billing_region": "state",
        "billing_postal_code": "zip",
        "billing_country": "country",
        "category": "industry",
        "subcategory": "industry",
        "notes": "description",
        "status": "crmsync_status",
        "archived": "crmsync_archived",
        "customer_type": "crmsync_customer_type",
        "currency": "crmsync_currency",
        "payment_terms_days": "crmsync_payment_terms_days",
        "credit_limit": "crmsync_credit_limit",
        "tax_id": "vat_number",
        "registration_number": "crmsync_registration_number",
        "tax_rate": "crmsync_tax_rate",
        "sales_rep_email": "crmsync_sales_rep_email",
        "sales_rep_name": "crmsync_sales_rep_name",
        "tags": "crmsync_tags",
    }
    assert {name: remote for name, (remote, _, _) in fields.items()} == expected
    assert fields["phone"][1] == "phone"
    assert fields["billing_country"][1] == "country"
    assert fields["category"][1] == "value_map"
    assert fields["payment_terms_days"][1:] == ("integer", Rule.TWO_WAY)
    assert fields["credit_limit"][1:] == ("decimal", Rule.TWO_WAY)
    assert fields["archived"][1] == "boolean"
    assert fields["tax_rate"][1:] == ("decimal", Rule.TWO_WAY)
    assert fields["tags"][1:] == ("list", Rule.TWO_WAY)
    rules = {name: rule for name, (_, _, rule) in fields.items()}
    assert {name for name, rule in rules.items() if rule is not Rule.TWO_WAY} == {
        "category",
        "subcategory",
    }


def test_salesforce_account_covers_the_shared_fields() -> None:
    fields = pairs("salesforce", "account")
    for kind, prefix in (("billing", "Billing"), ("shipping", "Shipping")):
        assert fields[f"{kind}_street"] == (f"{prefix}Street", "street_lines", Rule.TWO_WAY)
        assert fields[f"{kind}_street2"][0] == f"{prefix}Street"
        assert fields[f"{kind}_city"][0] == f"{prefix}City"
        assert fields[f"{kind}_region"][0] == f"{prefix}State"
        assert fields[f"{kind}_postal_code"][0] == f"{prefix}PostalCode"
        assert fields[f"{kind}_country"][:2] == (f"{prefix}Country", "country")
    assert fields["name"][0] == "Name"
    assert fields["website"] == fields["domain"] == ("Website", "website_domain", Rule.TWO_WAY)
    assert fields["phone"][:2] == ("Phone", "phone")
    assert fields["category"][:2] == fields["subcategory"][:2] == ("Industry", "value_map")
    assert fields["notes"][0] == "Description"
    assert fields["tax_id"] == ("VAT_Number__c", "text", Rule.TWO_WAY)
    assert fields["payment_terms_days"] == ("Payment_Terms_Days__c", "integer", Rule.TWO_WAY)
    assert fields["credit_limit"] == ("Credit_Limit__c", "decimal", Rule.TWO_WAY)
    assert fields["status"][:2] == ("Customer_Status__c", "text")
    assert fields["archived"][:2] == ("Archived__c", "boolean")
    assert fields["tax_rate"] == ("Tax_Rate__c", "decimal", Rule.TWO_WAY)
    assert fields["sales_rep_email"][:2] == ("Sales_Rep_Email__c", "email")
    assert fields["tags"] == ("Tags__c", "list", Rule.TWO_WAY)
    assert load_map("salesforce", "account").entry("name").required


@pytest.mark.parametrize(
    ("provider", "names"),
    [
        ("hubspot", ["firstname", "lastname", "email", "phone", "mobilephone", "jobtitle"]),
        ("salesforce", ["FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title"]),
    ],
)
def test_contact_maps_cover_the_shared_fields(provider: str, names: list[str]) -> None:
    fields = pairs(provider, "contact")
    assert [fields[name][0] for name in CONTACT] == names
    for name, transform in CONTACT.items():
        assert fields[name][1] == (transform or "text")
    assert fields["roles"][1:] == ("list", Rule.TWO_WAY)


def test_blank_is_written_the_way_each_crm_clears_a_field() -> None:
    assert load_map("hubspot", "company").blank == ""
    assert load_map("salesforce", "account").blank is None


@pytest.mark.parametrize(
    ("provider", "object_type", "allowed"),
    [("hubspot", "company", HUBSPOT_INDUSTRIES), ("salesforce", "account", SALESFORCE_INDUSTRIES)],
)
def test_industry_value_maps_use_real_crm_values_and_the_taxonomy(
    provider: str, object_type: str, allowed: tuple[str, ...]
) -> None:
    value_map = load_map(provider, object_type).entry("category").value_map
    assert value_map is not None
    assert {value.casefold() for value in value_map.inbound} <= {v.casefold() for v in allowed}
    for local in value_map.inbound.values():
        assert taxonomy.is_valid(*local)
    # Every category the CRM can express is written back as some CRM value.
    for local in value_map.inbound.values():
        written = value_map.to_remote(local)
        assert written is not None and value_map.to_local(written) == local


# --- bad maps -------------------------------------------------------------------------

GOOD = """\
provider: hubspot
object: company
local: customer
fields:
  - {local: name, remote: name}
  - {local: phone, remote: phone, transform: phone}
"""


def write(tmp_path: Path, text: str, name: str = "map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    loaded = load_map_file(write(tmp_path, GOOD))
    assert [entry.key for entry in loaded.fields] == ["name", "phone"]
    assert loaded.fields[0].rule is Rule.TWO_WAY and loaded.fields[0].transform == "text"


@pytest.mark.parametrize(
    ("entry", "field", "problem"),
    [
        ("{local: nickname, remote: nick}", "nickname", "unknown local field 'nickname'"),
        ("{local: archived_at, remote: gone}", "archived_at", "unknown local field"),
        (
            "{local: custom_properties.tier, remote: tier}\n"
            "  - {local: custom_properties, remote: extra}",
            "custom_properties.tier",
            "map single keys or the whole object, not both",
        ),
        (
            "{local: custom_properties.2nd tier, remote: tier}",
            "custom_properties.2nd tier",
            "unknown local field 'custom_properties.2nd tier'",
        ),
        ("{local: email, remote: email, rule: sometimes}", "email", "unknown rule 'sometimes'"),
        ("{local: email, remote: email, transform: upper}", "email", "unknown transform 'upper'"),
        ("{local: notes, remote: name}", "notes", "duplicate target: CRM property 'name'"),
        ("{local: name, remote: company_name}", "name", "duplicate target: local field 'name'"),
        ("{local: email, remote: email, rulez: two_way}", "email", "unknown entry keys"),
        ("{local: email}", "email", "'remote' (the CRM property) is required"),
        (
            "{local: billing_street, remote: street, transform: street_lines}",
            "billing_street",
            "needs 2 local fields",
        ),
        (
            "{local: category, remote: industry, transform: value_map, value_map: nope}",
            "category",
            "unknown value map 'nope'",
        ),
        ("{local: email, remote: email, required: maybe}", "email", "'required' must be"),
        ("{local: email, remote: email, max_length: 0}", "email", "'max_length' must be"),
        ("{local: email, remote: email, max_length: '80'}", "email", "'max_length' must be"),
        ("{local: email, remote: email, on_blank: ignore}", "email", "'on_blank' must be"),
    ],
)
def test_a_bad_entry_fails_naming_file_field_and_problem(
    tmp_path: Path, entry: str, field: str, problem: str
) -> None:
    path = write(tmp_path, GOOD + f"  - {entry}\n")
    with pytest.raises(MappingError, match=re.escape(problem)) as caught:
        load_map_file(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value) and repr(field) in str(caught.value)


def test_a_value_map_outside_the_taxonomy_fails(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD + "  - {local: [category, subcategory], remote: industry, transform: value_map,"
        " value_map: industry}\n"
        "value_maps:\n  industry:\n    BANKING: finance/banking\n    ZOO: animals/zebras\n",
    )
    with pytest.raises(
        MappingError, match=r"'animals/zebras' is not in the category taxonomy"
    ) as caught:
        load_map_file(path)
    assert caught.value.file == str(path) and caught.value.field == "value_maps.industry.ZOO"


def test_a_bad_value_map_row_in_an_override_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "object: company\nvalue_maps:\n  industry:\n    ZOO: animals\n")
    with pytest.raises(MappingError, match="'animals' is not in the category taxonomy") as caught:
        load_map("hubspot", "company", override=path)
    assert str(path) in caught.value.file and caught.value.field == "value_maps.industry.ZOO"


def test_unparseable_yaml_fails_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  - {local: email, remote: [unclosed\n")
    with pytest.raises(MappingError, match="is not valid YAML") as caught:
        load_map_file(path)
    assert str(caught.value).startswith(str(path))


def test_duplicate_yaml_keys_fail_instead_of_silently_losing_one(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  - {local: email, remote: email, remote: mail}\n")
    with pytest.raises(MappingError, match="duplicate key 'remote'"):
        load_map_file(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just\n- a list\n", "must be a mapping"),
        (GOOD.replace("local: customer", "local: invoice"), "unknown local type 'invoice'"),
        (GOOD.replace("provider: hubspot\n", ""), "'provider' is required"),
        (GOOD + "blank: none\n", 'must be "" or null'),
        (GOOD + "extra: 1\n", "unknown keys \\['extra'\\]"),
        ("", "is empty"),
    ],
)
def test_a_bad_file_fails_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError, match=problem) as caught:
        load_map_file(path)
    assert str(caught.value).startswith(str(path))


# --- connection overrides -------------------------------------------------------------


def test_an_override_merges_over_the_shipped_map(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
object: company
fields:
  - {local: tax_id, rule: two_way}
  - {local: phone, rule: always_crm}
  - {local: custom_properties.account_tier, remote: account_tier}
value_maps:
  industry:
    ZOO_KEEPING: agriculture/farming
---
object: contact
fields:
  - {local: job_title, rule: dont_sync}
""",
    )
    company = load_map("hubspot", "company", override=path)
    shipped = load_map("hubspot", "company")
    assert company.entry("tax_id").remote == "vat_number"  # kept from the shipped entry
    assert company.entry("tax_id").rule is Rule.TWO_WAY
    assert company.entry("phone").rule is Rule.ALWAYS_CRM
    assert company.entry("phone").transform == "phone"
    assert company.entry("custom_properties.account_tier").remote == "account_tier"
    assert len(company.fields) == len(shipped.fields) + 1
    industry = company.entry("category").value_map
    assert industry is not None
    assert industry.to_local("ZOO_KEEPING") == ("agriculture", "farming")
    assert industry.to_local("BANKING") == ("finance", "banking")  # shipped rows kept
    contact = load_map("hubspot", "contact", override=path)
    assert contact.entry("job_title").rule is Rule.DONT_SYNC
    assert "jobtitle" not in contact.remote_properties


def test_an_override_without_this_object_leaves_the_shipped_map(tmp_path: Path) -> None:
    path = write(tmp_path, "object: contact\nfields:\n  - {local: email, rule: always_crm}\n")
    assert load_map("hubspot", "company", override=path) == load_map("hubspot", "company")


def test_an_override_with_replace_is_the_whole_map(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "object: account\nlocal: customer\nreplace: true\nblank: null\n"
        "fields:\n  - {local: name, remote: Name, required: true}\n",
    )
    replaced = load_map("salesforce", "account", override=path)
    assert [entry.key for entry in replaced.fields] == ["name"]
    assert replaced.provider == "salesforce" and replaced.sources == (str(path),)


def test_an_override_error_names_the_override_file(tmp_path: Path) -> None:
    path = write(tmp_path, "object: company\nfields:\n  - {local: phone, rule: sometimes}\n")
    with pytest.raises(MappingError, match="unknown rule 'sometimes'") as caught:
        load_map("hubspot", "company", override=path)
    assert caught.value.file == str(path) and caught.value.field == "phone"


def test_an_override_clash_with_a_shipped_entry_is_a_duplicate_target(tmp_path: Path) -> None:
    path = write(tmp_path, "object: company\nfields:\n  - {local: tax_id, remote: phone}\n")
    with pytest.raises(MappingError, match="duplicate target: CRM property 'phone'") as caught:
        load_map("hubspot", "company", override=path)
    assert caught.value.file == str(path)


def test_a_missing_override_file_fails_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(MappingError, match="cannot be read") as caught:
        load_map("hubspot", "company", override=missing)
    assert caught.value.file == str(missing)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fields:\n  - {local: phone, rule: always_crm}\n", "'object' is required"),
        ("object: companies\nfields: []\n", "no shipped hubspot map for 'companies'"),
        ("object: company\n---\nobject: company\n", "appears in two documents"),
        ("provider: salesforce\nobject: company\n", "provider is not 'hubspot'"),
    ],
)
def test_an_override_that_would_silently_do_nothing_fails(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError, match=re.escape(problem)) as caught:
        load_map("hubspot", "contact", override=path)
    assert caught.value.file == str(path)


def test_a_value_map_row_with_more_values_than_fields_fails(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD + "  - {local: category, remote: industry, transform: value_map, value_map: i}\n"
        "value_maps:\n  i:\n    BANKING: finance/banking\n",
    )
    with pytest.raises(MappingError, match=re.escape("gives 2 values for 1 fields")) as caught:
        load_map_file(path)
    assert caught.value.field == "value_maps.i.BANKING"


def test_a_custom_map_takes_every_field_of_the_record(tmp_path: Path) -> None:
    """Payment terms, credit limit and contact roles load in a connection's own map, and
    each gets the transform of its kind without naming one."""
    path = write(
        tmp_path,
        "object: company\nfields:\n"
        "  - {local: payment_terms_days, remote: terms}\n"
        "  - {local: credit_limit, remote: limit}\n"
        "  - {local: custom_properties, remote: extras}\n"
        "---\nobject: contact\nfields:\n"
        "  - {local: roles, remote: roles}\n",
    )
    company = load_map("hubspot", "company", override=path)
    contact = load_map("hubspot", "contact", override=path)
    assert company.entry("payment_terms_days").transform == "integer"
    assert company.entry("credit_limit").transform == "decimal"
    assert company.entry("custom_properties").transform == "json"
    assert contact.entry("roles").remote == "roles"  # replaces the shipped entry's property
    assert contact.entry("roles").transform == "list"


def test_every_directory_field_is_mappable() -> None:
    """The loader's fields are the directory's own: a column the directory validates is
    mappable without a list here to keep in step."""
    from customers.fields import CONTACT_FIELDS, CUSTOMER_FIELDS
    from mappings.fields import LOCAL_FIELDS

    assert set(CUSTOMER_FIELDS) | {"archived", "tags"} == set(LOCAL_FIELDS["customer"])
    assert set(CONTACT_FIELDS) == set(LOCAL_FIELDS["contact"])
