"""Each transform on its own: what it reads, what it writes, what it refuses."""

from __future__ import annotations

import pycountry
import pytest

from mappings.spec import ValueMap
from mappings.transforms import TRANSFORMS, Context, country_code, country_name


def inbound(name: str, raw: str, context: Context | None = None) -> tuple[object, ...]:
    return TRANSFORMS[name].inbound(raw, context or Context())


def outbound(name: str, *values: object, context: Context | None = None) -> str | None:
    return TRANSFORMS[name].outbound(values, context or Context())


def test_text_passes_through_for_the_directory_to_trim() -> None:
    assert inbound("text", "  Acme  ") == ("  Acme  ",)
    assert outbound("text", "Acme") == "Acme"


def test_email_is_lower_cased_and_checked() -> None:
    assert inbound("email", " AP@Acme.COM ") == ("ap@acme.com",)
    with pytest.raises(ValueError, match="not a valid email"):
        inbound("email", "ap@")


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+49 30 123 4567", None, "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("030 1234567", None, "030 1234567"),  # no country to read it in: kept as given
        ("ask reception", "DE", "ask reception"),
    ],
)
def test_phone_becomes_e164(raw: str, region: str | None, stored: str) -> None:
    assert inbound("phone", raw, Context(region=region)) == (stored,)
    assert outbound("phone", stored) == stored


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Germany", "DE"),
        ("germany", "DE"),
        ("DE", "DE"),
        ("DEU", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("USA", "US"),
        ("United States", "US"),
        ("South Korea", "KR"),
        ("Deutschland", "DE"),
    ],
)
def test_country_names_and_codes_read_as_iso_alpha2(raw: str, code: str) -> None:
    assert inbound("country", raw) == (code,)


def test_unknown_country_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO 3166"):
        inbound("country", "Narnia")


def test_country_name_written_back_reads_as_the_same_code_for_every_country() -> None:
    assert outbound("country", "DE") == "Germany"
    assert outbound("country", "KR") == "South Korea"
    for country in pycountry.countries:
        assert country_code(country_name(country.alpha_2)) == country.alpha_2


def test_country_code_field_writes_the_code() -> None:
    assert inbound("country_code", "Germany") == ("DE",)
    assert outbound("country_code", "DE") == "DE"


def test_website_and_domain() -> None:
    assert inbound("website", "acme.com") == ("https://acme.com",)
    assert inbound("domain", "https://www.Acme.com/about") == ("acme.com",)
    with pytest.raises(ValueError, match="not a domain"):
        inbound("domain", "localhost")


def test_website_domain_fills_both_and_writes_a_website_for_a_domain() -> None:
    assert inbound("website_domain", "www.Acme.com/x") == ("https://www.Acme.com/x", "acme.com")
    assert outbound("website_domain", "https://acme.com/x", "acme.com") == "https://acme.com/x"
    assert outbound("website_domain", None, "acme.com") == "https://acme.com"


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        ("Hauptstr. 1", ("Hauptstr. 1", None)),
        ("Hauptstr. 1\nHinterhaus", ("Hauptstr. 1", "Hinterhaus")),
        ("Hauptstr. 1\r\nHinterhaus\n3. OG", ("Hauptstr. 1", "Hinterhaus, 3. OG")),
        ("\nSuite 5", (None, "Suite 5")),
        (" 1 Main St \n\n", ("1 Main St", None)),
    ],
)
def test_street_lines_split_into_street_and_street2(raw: str, lines: tuple[str, ...]) -> None:
    assert inbound("street_lines", raw) == lines


def test_street_lines_join_with_a_newline() -> None:
    assert outbound("street_lines", "1 Main St", "Suite 5") == "1 Main St\nSuite 5"
    assert outbound("street_lines", "1 Main St", None) == "1 Main St"
    assert outbound("street_lines", None, "Suite 5") == "\nSuite 5"


def test_value_map_reads_case_insensitively_and_writes_the_first_listed_value() -> None:
    table = ValueMap(
        "industry",
        inbound={
            "banking": ("finance", "banking"),
            "finance": ("finance", None),
            "credit": ("finance", "banking"),
        },
        outbound={("finance", "banking"): "Banking", ("finance", None): "Finance"},
        fallbacks={"finance": "Finance"},
    )
    context = Context(value_map=table)
    assert inbound("value_map", "BANKING", context) == ("finance", "banking")
    assert outbound("value_map", "finance", "banking", context=context) == "Banking"
    # No exact value for this pair: the category's.
    assert outbound("value_map", "finance", "insurance", context=context) == "Finance"
    assert outbound("value_map", "retail", None, context=context) is None
    with pytest.raises(ValueError, match="not in value map 'industry'"):
        inbound("value_map", "Zoology", context)


@pytest.mark.parametrize(("raw", "days"), [("30", 30), ("30.0", 30), (" 0 ", 0), ("365", 365)])
def test_integer_reads_salesforce_doubles_as_whole_numbers(raw: str, days: int) -> None:
    assert inbound("integer", raw) == (days,)
    assert outbound("integer", days) == str(days)


@pytest.mark.parametrize("raw", ["30.5", "thirty", "", "NaN", "Infinity"])
def test_integer_refuses_what_is_no_whole_number(raw: str) -> None:
    with pytest.raises(ValueError, match="number"):
        inbound("integer", raw)


def test_decimal_is_exact_and_written_as_its_shortest_text() -> None:
    from decimal import Decimal

    assert inbound("decimal", "25000.50") == (Decimal("25000.50"),)
    assert inbound("decimal", "0.1") == (Decimal("0.1"),)  # never through a float
    assert outbound("decimal", "25000.5") == "25000.5"
    with pytest.raises(ValueError, match="not a number"):
        inbound("decimal", "1.000,50")


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("FALSE", False), ("yes", True), ("0", False)]
)
def test_boolean_reads_crm_spellings_and_writes_true_or_false(raw: str, value: bool) -> None:
    assert inbound("boolean", raw) == (value,)
    assert outbound("boolean", value) == ("true" if value else "false")
    with pytest.raises(ValueError, match="not true or false"):
        inbound("boolean", "maybe")


def test_list_reads_semicolons_and_commas_and_writes_semicolons() -> None:
    assert inbound("list", "billing;order") == (["billing", "order"],)
    assert inbound("list", " billing ; ;order, legal") == (["billing", "order", "legal"],)
    assert outbound("list", ["billing", "order"]) == "billing;order"
    assert outbound("list", []) is None  # nothing: the map's blank
    # Reading back what was written changes nothing.
    written = outbound("list", ["billing", "order"])
    assert written is not None and inbound("list", written) == (["billing", "order"],)


def test_json_holds_custom_properties_as_one_sorted_text() -> None:
    assert outbound("json", {"tier": "gold", "segment": "smb"}) == '{"segment":"smb","tier":"gold"}'
    assert inbound("json", '{"tier": "gold"}') == ({"tier": "gold"},)
    with pytest.raises(ValueError, match="is not JSON"):
        inbound("json", "{tier")
