"""The rules categorizer: documented evidence, confidence that follows agreement, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from customers import taxonomy
from customers.categorizers import Categorization, CustomerFacts
from customers.categorizers.keywords import INDUSTRY_TLDS, KEYWORDS
from customers.categorizers.rules import RulesCategorizer

MAPS = Path(__file__).resolve().parents[3] / "mappings" / "maps"
rules = RulesCategorizer()


def decide(name: str = "Northwind", **facts: str) -> Categorization:
    return rules.categorize(CustomerFacts(name=name, **facts))


def test_every_table_entry_is_in_the_taxonomy() -> None:
    for slug in [*KEYWORDS.values(), *INDUSTRY_TLDS.values()]:
        category, _, subcategory = slug.partition("/")
        assert taxonomy.is_valid(category, subcategory or None), slug


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"email": "ap@springfield.gov"}, ("public_sector", "government")),
        ({"website": "https://www.ons.gov.uk/"}, ("public_sector", "government")),
        ({"email": "rechnung@stadt.gouv.fr"}, ("public_sector", "government")),
        ({"email": "finance@mit.edu"}, ("public_sector", "education")),
        ({"website": "www.ox.ac.uk"}, ("public_sector", "education")),
        ({"email": "ap@army.mil"}, ("public_sector", "defense")),
        ({"email": "ap@acme.bank"}, ("finance", "banking")),
    ],
)
def test_domains_that_only_one_kind_of_organisation_can_register(
    facts: dict[str, str], expected: tuple[str, str]
) -> None:
    assert (decide(**facts).category, decide(**facts).subcategory) == expected


def test_a_country_code_alone_is_not_a_government_suffix() -> None:
    # .ac is Ascension Island, used by startups; only the second level under a country
    # code (ac.uk, gov.uk) says who registered it.
    assert decide(website="https://acme.ac").category == "other"
    assert decide(email="info@go.com").category == "other"


def test_names_types_and_free_mail() -> None:
    assert (
        decide("Meyer Logistics GmbH").category,
        decide("Meyer Logistics GmbH").subcategory,
    ) == (
        "logistics",
        "supply_chain",
    )
    assert decide("First Credit Union").subcategory == "banking"  # the phrase, not "credit"
    assert decide("Nice Property", customer_type="government").category == "public_sector"
    assert decide("Jane Doe", email="jane@gmail.com", customer_type="consumer").category == "other"
    # gmail.com says nothing, however many words it contains
    assert decide("Jane Doe", email="software.jane@gmail.com").reasons == ("no evidence",)


def test_no_evidence_is_other_with_low_confidence() -> None:
    answer = decide("ACME Corp.")
    assert (answer.category, answer.subcategory, answer.confidence, answer.source) == (
        "other",
        None,
        0.2,
        "rules",
    )


def test_confidence_grows_with_agreeing_evidence_and_drops_with_conflict() -> None:
    alone = decide("Acme Software")
    two = decide("Acme Software", industry="COMPUTER_SOFTWARE")
    three = decide("Acme Software", industry="COMPUTER_SOFTWARE", website="acme-software.com")
    conflict = decide("Acme Bakery", industry="COMPUTER_SOFTWARE")
    assert alone.confidence < two.confidence < three.confidence <= 0.95
    assert (three.category, three.subcategory) == ("technology", "software")
    assert conflict.category == "technology"  # the CRM's industry outweighs one name word
    assert conflict.confidence < decide("Acme", industry="COMPUTER_SOFTWARE").confidence


def test_the_same_facts_give_the_same_answer() -> None:
    facts = CustomerFacts(name="Hotel Adler Bakery", email="a@hotel-adler.de", industry="Retail")
    assert len({rules.categorize(facts) for _ in range(5)}) == 1


def test_compound_domains_and_industry_words() -> None:
    assert decide("Acme", website="acmesoftware.com").subcategory == "software"
    assert decide(industry="Food & Beverage").subcategory == "food_and_beverage"
    assert decide(industry="information technology and services").subcategory == "it_services"


def _industry_values() -> list[tuple[str, str, str]]:
    values = []
    for path in sorted(MAPS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for value, slug in (data.get("value_maps") or {}).get("industry", {}).items():
            values.append((path.stem, str(value), str(slug)))
    return values


@pytest.mark.parametrize(("crm", "value", "slug"), _industry_values())
def test_every_mapped_crm_industry_value_reads_as_its_map_says(
    crm: str, value: str, slug: str
) -> None:
    # A customer whose CRM industry no value map caught (a custom property, an import) is
    # categorized by these rules; they must agree with the maps wherever both speak.
    answer = decide("Northwind", industry=value)
    category, _, subcategory = slug.partition("/")
    assert answer.category == category
    assert answer.subcategory == (subcategory or None)
    assert answer.confidence >= 0.6


def test_answers_outside_the_taxonomy_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="not in the taxonomy"):
        Categorization("spaceships", None, 0.5, "rules")
    with pytest.raises(ValueError, match="not in the taxonomy"):
        Categorization("finance", "software", 0.5, "rules")
    with pytest.raises(ValueError, match="between 0 and 1"):
        Categorization("finance", None, 1.5, "rules")
    with pytest.raises(ValueError, match="not a categorizer source"):
        Categorization("finance", None, 0.5, "manual")
