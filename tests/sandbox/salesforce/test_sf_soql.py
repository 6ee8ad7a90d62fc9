"""The SOQL subset: parsing, typing and evaluation, directly and through simple-salesforce."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.schema import build_schema
from sandbox.salesforce.soql_eval import compile_query
from sandbox.salesforce.soql_parser import BoolOp, Comparison, Literal, Not, parse

SCHEMA = build_schema()


def matches(soql: str, record: dict[str, object]) -> bool:
    compiled = compile_query(parse(soql), SCHEMA)
    assert compiled.predicate is not None
    full = dict.fromkeys(SCHEMA[compiled.object_name].fields) | record
    return compiled.predicate(full)


def error_code(soql: str) -> str:
    with pytest.raises(ApiError) as caught:
        compile_query(parse(soql), SCHEMA)
    return caught.value.error_code


def test_and_binds_its_own_level_and_parentheses_group() -> None:
    query = parse("SELECT Id FROM Account WHERE (Name = 'a' OR Name = 'b') AND Industry = 'Retail'")
    assert isinstance(query.where, BoolOp) and query.where.op == "AND"
    assert isinstance(query.where.items[0], BoolOp) and query.where.items[0].op == "OR"
    where = "WHERE Name = 'a' OR (Name = 'b' AND Industry = 'Retail')"
    assert matches(f"SELECT Id FROM Account {where}", {"Name": "A", "Industry": None})
    assert not matches(f"SELECT Id FROM Account {where}", {"Name": "b", "Industry": None})


def test_mixing_and_with_or_without_parentheses_is_malformed() -> None:
    assert error_code("SELECT Id FROM Account WHERE Name = 'a' AND Phone = 'b' OR Name = 'c'") == (
        "MALFORMED_QUERY"
    )
    with pytest.raises(ApiError) as caught:
        parse("SELECT Id FROM Account WHERE Name = 'a' OR Phone = 'b' AND Name = 'c'")
    assert "unexpected token: AND" in caught.value.message
    assert "ERROR at Row:1:Column:" in caught.value.message


def test_not_only_leads_a_condition_group() -> None:
    assert isinstance(parse("SELECT Id FROM Account WHERE NOT Name = 'a'").where, Not)
    parse("SELECT Id FROM Account WHERE Phone = null AND (NOT Name = 'a')")
    assert error_code("SELECT Id FROM Account WHERE Phone = null AND NOT Name = 'a'") == (
        "MALFORMED_QUERY"
    )
    assert matches("SELECT Id FROM Account WHERE NOT (Name = 'a' OR Name = 'b')", {"Name": "c"})
    assert not matches("SELECT Id FROM Account WHERE NOT (Name = 'a' OR Name = 'b')", {"Name": "B"})


@pytest.mark.parametrize(
    "value",
    ["O'Brien & Co", 'say "hi"', "back\\slash", "tab\there", "new\nline", "%_\\", "Zoë Łódź"],
)
def test_format_soql_escapes_round_trip(value: str) -> None:
    soql = format_soql("SELECT Id FROM Account WHERE Name = {}", value)
    query = parse(soql)
    assert isinstance(query.where, Comparison)
    assert query.where.value.value == value  # type: ignore[union-attr]
    assert matches(soql, {"Name": value})
    assert matches(soql, {"Name": value.upper()})  # text comparisons ignore case
    assert not matches(soql, {"Name": value + "x"})


def test_like_with_format_soql_like_escapes_wildcards() -> None:
    soql = format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", "%_\\")
    assert matches(soql, {"Name": "%_\\ and more"})
    assert not matches(soql, {"Name": "x_\\ and more"})  # % in the value is literal
    assert not matches(soql, {"Name": "%a\\"})  # so is _
    assert matches("SELECT Id FROM Account WHERE Name LIKE 'a_c'", {"Name": "ABC"})
    assert not matches("SELECT Id FROM Account WHERE Name LIKE 'a_c'", {"Name": "abbc"})
    assert matches("SELECT Id FROM Account WHERE Name LIKE '%brien%'", {"Name": "O'Brien & Co"})
    assert not matches("SELECT Id FROM Account WHERE Name LIKE '%brien%'", {"Name": None})


def test_illegal_escape_is_malformed() -> None:
    assert error_code("SELECT Id FROM Account WHERE Name = 'a\\qb'") == "MALFORMED_QUERY"
    assert error_code("SELECT Id FROM Account WHERE Name = 'unterminated") == "MALFORMED_QUERY"


def test_datetime_and_date_literals() -> None:
    moment = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    record = {"SystemModstamp": moment}
    assert matches("SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z", record)
    assert matches(
        "SELECT Id FROM Account WHERE SystemModstamp = 2024-01-01T13:00:00+01:00", record
    )
    assert not matches(
        "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T12:00:00.000Z", record
    )
    soql = format_soql("SELECT Id FROM Account WHERE SystemModstamp >= {}", moment)
    assert matches(soql, record)
    assert matches(
        "SELECT Id FROM Contact WHERE Birthdate < 2000-01-02",
        {"Birthdate": moment.date().replace(year=2000)},
    )
    # A quoted datetime is a type error, as is a date for a datetime field.
    assert error_code("SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'") == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )
    assert error_code("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01") == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )


def test_null_semantics_follow_soql_not_sql() -> None:
    assert matches("SELECT Id FROM Account WHERE Industry != 'Retail'", {"Industry": None})
    assert matches("SELECT Id FROM Account WHERE Industry = null", {"Industry": None})
    assert not matches("SELECT Id FROM Account WHERE Industry != null", {"Industry": None})
    assert not matches(
        "SELECT Id FROM Account WHERE NumberOfEmployees < 10", {"NumberOfEmployees": None}
    )
    assert matches("SELECT Id FROM Account WHERE Industry NOT IN ('Retail')", {"Industry": None})
    assert matches(
        "SELECT Id FROM Account WHERE Industry IN ('retail', 'Media')", {"Industry": "Retail"}
    )


def test_numbers_booleans_and_ids() -> None:
    assert matches(
        "SELECT Id FROM Account WHERE NumberOfEmployees >= 10.5", {"NumberOfEmployees": 11}
    )
    assert matches("SELECT Id FROM Account WHERE IsDeleted = false", {"IsDeleted": False})
    record_id = "0015J000000000AQAQ"
    assert matches(f"SELECT Id FROM Account WHERE Id = '{record_id[:15]}'", {"Id": record_id})
    assert error_code("SELECT Id FROM Account WHERE Id = 'nope'") == "INVALID_QUERY_FILTER_OPERATOR"
    assert error_code("SELECT Id FROM Account WHERE Name = 5") == "INVALID_QUERY_FILTER_OPERATOR"
    assert (
        error_code("SELECT Id FROM Account WHERE IsDeleted < true")
        == "INVALID_QUERY_FILTER_OPERATOR"
    )


def test_unknown_fields_and_objects() -> None:
    assert error_code("SELECT Id, Nope__c FROM Account") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Account WHERE Nope = 'x'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Opportunity") == "INVALID_TYPE"
    assert error_code("SELECT Id FROM Account WHERE Description = 'x'") == "INVALID_FIELD"
    assert error_code("SELECT Id FROM Account ORDER BY Description") == "INVALID_FIELD"
    assert error_code("SELECT Id, id FROM Account") == "MALFORMED_QUERY"
    assert error_code("SELECT FROM Account") == "MALFORMED_QUERY"
    assert error_code("SELECT Id FROM Account LIMIT") == "MALFORMED_QUERY"
    assert error_code("SELECT Id FROM Account OFFSET 2001") == "NUMBER_OUTSIDE_VALID_RANGE"


def _names(sf: Salesforce, soql: str) -> list[str | None]:
    return [r["Name"] for r in sf.query_all(soql)["records"]]


def test_queries_through_simple_salesforce(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    for name, employees in [("beta", 10), ("Alpha", 10), ("gamma", None), ("O'Brien & Co", 5)]:
        sf_sandbox.create("Account", {"Name": name, "NumberOfEmployees": employees})
    assert _names(sf, "SELECT Name FROM Account ORDER BY Name") == [
        "Alpha",
        "beta",
        "gamma",
        "O'Brien & Co",
    ]
    assert _names(sf, "SELECT Name FROM Account ORDER BY NumberOfEmployees DESC NULLS LAST, Name DESC") == [
        "beta", "Alpha", "O'Brien & Co", "gamma"
    ]  # fmt: skip
    assert _names(sf, "SELECT Name FROM Account ORDER BY NumberOfEmployees, Name") == [
        "gamma", "O'Brien & Co", "Alpha", "beta"
    ]  # fmt: skip
    assert _names(sf, "SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 1") == [
        "beta",
        "gamma",
    ]
    soql = format_soql("SELECT Name FROM Account WHERE Name = {}", "O'Brien & Co")
    assert _names(sf, soql) == ["O'Brien & Co"]
    assert sf.query("SELECT COUNT() FROM Account WHERE NumberOfEmployees = 10")["totalSize"] == 2
    assert sf.query("SELECT COUNT() FROM Account WHERE NumberOfEmployees = 10")["records"] == []


def test_malformed_query_raises_sdk_error_with_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert set(caught.value.content[0]) == {"message", "errorCode"}
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Bogus__c FROM Account")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_parent_fields_one_relationship_up(sf_sandbox: SalesforceSandbox, sf: Salesforce) -> None:
    parent = sf.Account.create({"Name": "Holding", "CrmsyncId__c": "h-1"})["id"]
    child = sf.Account.create({"Name": "Subsidiary", "ParentId": parent})["id"]
    sf.Contact.create({"LastName": "Alpha", "AccountId": child})
    sf.Contact.create({"LastName": "Beta", "AccountId": parent})
    sf.Contact.create({"LastName": "Orphan"})
    soql = "SELECT LastName, Account.Name, Account.CrmsyncId__c FROM Contact ORDER BY Account.Name NULLS LAST"
    records = sf.query_all(soql)["records"]
    assert [r["LastName"] for r in records] == ["Beta", "Alpha", "Orphan"]
    assert records[0]["Account"]["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{parent}",
    }
    assert (
        records[0]["Account"]["Name"] == "Holding"
        and records[0]["Account"]["CrmsyncId__c"] == "h-1"
    )
    assert records[2]["Account"] is None
    where = sf.query_all("SELECT LastName FROM Contact WHERE Account.CrmsyncId__c = 'H-1'")[
        "records"
    ]
    assert [r["LastName"] for r in where] == ["Beta"]
    nested = sf.query_all("SELECT Name, Parent.Name FROM Account WHERE Parent.Name != null")[
        "records"
    ]
    assert [(r["Name"], r["Parent"]["Name"]) for r in nested] == [("Subsidiary", "Holding")]
    sf.Account.update(parent, {"Name": "Holding AG"})  # parents are read at query time
    assert (
        sf.query(f"SELECT Parent.Name FROM Account WHERE Id = '{child}'")["records"][0]["Parent"][
            "Name"
        ]
        == "Holding AG"
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Company.Name FROM Contact")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "Didn't understand relationship 'Company'" in caught.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Account.Nope FROM Contact")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_round_trips_through_format_soql(value: str) -> None:
    soql = format_soql("SELECT Id FROM Account WHERE Name = {}", value)
    where = parse(soql).where
    assert isinstance(where, Comparison) and isinstance(where.value, Literal)
    assert where.value.value == value
    like = format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}'", value)
    stored = value or None  # Salesforce stores "" as null, which LIKE never matches
    assert matches(like, {"Name": stored}) is (stored is not None)
    if stored:
        assert not matches(like, {"Name": stored + "x"})
