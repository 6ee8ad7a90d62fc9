"""Deterministic, realistic seed data for the sandbox CRMs.

One generator feeds both emulators, so a HubSpot company and a Salesforce account made from
the same seed describe the same business (that overlap is what the demo and the sync tests
need). Data is CRM-neutral plain dicts; each emulator maps them to its own field names.

What it makes on purpose: names and addresses in many countries, unicode and apostrophes,
domains derived from names, phone numbers in national formats, industries, and a share of
exact and near duplicates (same business, different spelling or casing).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

# (country name as CRMs show it, ISO 3166 alpha-2, dialing code, cities)
COUNTRIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("United States", "US", "+1", ("New York", "Austin", "Denver", "Portland", "Chicago")),
    ("United Kingdom", "GB", "+44", ("London", "Manchester", "Leeds", "Bristol")),
    ("Germany", "DE", "+49", ("Berlin", "München", "Köln", "Düsseldorf")),
    ("France", "FR", "+33", ("Paris", "Lyon", "Besançon", "Nîmes")),
    ("Spain", "ES", "+34", ("Madrid", "Barcelona", "A Coruña", "Málaga")),
    ("Netherlands", "NL", "+31", ("Amsterdam", "Utrecht", "Den Haag")),
    ("Sweden", "SE", "+46", ("Stockholm", "Göteborg", "Malmö")),
    ("Poland", "PL", "+48", ("Warszawa", "Kraków", "Łódź", "Gdańsk")),
    ("Japan", "JP", "+81", ("Tokyo", "Osaka", "Kyoto")),
    ("Brazil", "BR", "+55", ("São Paulo", "Rio de Janeiro", "Belo Horizonte")),
    ("Canada", "CA", "+1", ("Toronto", "Montréal", "Vancouver")),
    ("Ireland", "IE", "+353", ("Dublin", "Cork", "Galway")),
    ("India", "IN", "+91", ("Bengaluru", "Mumbai", "Pune")),
    ("Australia", "AU", "+61", ("Sydney", "Melbourne", "Brisbane")),
)

DIALING_CODES = {code: dialing for _, code, dialing, _ in COUNTRIES}

FIRST_NAMES = (
    "Anna",
    "James",
    "Sofía",
    "Lukas",
    "Chloé",
    "Mateusz",
    "Yuki",
    "João",
    "Aoife",
    "Priya",
    "Olivia",
    "Noah",
    "Zoë",
    "Björn",
    "Ines",
    "Mohammed",
    "Emily",
    "Liam",
    "Hana",
    "Seán",
    "François",
    "Małgorzata",
    "Ravi",
    "Grace",
)
LAST_NAMES = (
    "O'Brien",
    "Smith",
    "García",
    "Müller",
    "Dubois",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Murphy",
    "Sharma",
    "Johnson",
    "van der Berg",
    "Andersson",
    "Núñez",
    "D'Angelo",
    "Nguyen",
    "Brown",
    "Schröder",
    "Łukasik",
    "O'Neill",
    "Fernández",
    "Lefèvre",
)
NAME_STEMS = (
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Contoso",
    "Fabrikam",
    "Aperture",
    "Blue Harbor",
    "Red Maple",
    "Silver Birch",
    "Golden Gate",
    "Nordlicht",
    "Sonnenschein",
    "Étoile",
    "Água Viva",
    "Kōyō",
    "Zielona Góra",
    "O'Malley",
    "Smith & Wesson",
    "Brightwater",
    "Ironbridge",
    "Oakridge",
    "Pinecrest",
    "Riverstone",
    "Summit",
    "Evergreen",
    "Lighthouse",
    "Keystone",
    "Bluebird",
    "Copperfield",
    "Highland",
    "Lakeside",
)
NAME_WORDS = (
    "Logistics",
    "Analytics",
    "Foods",
    "Health",
    "Robotics",
    "Energy",
    "Textiles",
    "Software",
    "Consulting",
    "Bakery",
    "Builders",
    "Media",
    "Pharma",
    "Motors",
    "Labs",
    "Studios",
    "Farms",
    "Capital",
    "Dental",
    "Legal",
    "Freight",
    "Systems",
    "Outfitters",
)
SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "S.A.", "B.V.", "AB", "Sp. z o.o.", "K.K.", "Corp.", "")
# Industries as shown to people; each emulator maps them to its own enum / picklist.
INDUSTRIES = (
    "Computer Software",
    "Financial Services",
    "Hospital & Health Care",
    "Retail",
    "Construction",
    "Food & Beverages",
    "Logistics and Supply Chain",
    "Government Administration",
    "Education Management",
    "Pharmaceuticals",
    "Legal Services",
    "Automotive",
    "Telecommunications",
    "Utilities",
    "Textiles",
    "Media Production",
)
JOB_TITLES = (
    "CEO",
    "CFO",
    "Accounts Payable",
    "Office Manager",
    "Head of Procurement",
    "Controller",
    "Operations Lead",
    "Buyer",
    "Legal Counsel",
)

NEAR_DUPLICATE_SHARE = 0.03
EXACT_DUPLICATE_SHARE = 0.01


@dataclass
class SeedContact:
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str


@dataclass
class SeedCompany:
    name: str
    domain: str
    website: str
    phone: str
    street: str
    city: str
    postal_code: str
    state: str
    country: str
    country_code: str
    industry: str
    description: str
    employees: int
    annual_revenue: int
    tax_id: str
    contacts: list[SeedContact] = field(default_factory=list)


@dataclass(frozen=True)
class SeedPerson:
    """A user of both CRMs (a HubSpot owner, a Salesforce User): a sales rep."""

    first_name: str
    last_name: str
    email: str


# The same people work in both sandbox CRMs, so a sales rep matches by email in each.
SALES_REPS: tuple[SeedPerson, ...] = (
    SeedPerson("Sam", "Rivera", "sam.rivera@crmsync.example"),
    SeedPerson("Jana", "Novák", "jana.novak@crmsync.example"),
    SeedPerson("Kenji", "Sato", "kenji.sato@crmsync.example"),
    SeedPerson("Aoife", "O'Connor", "aoife.oconnor@crmsync.example"),
)


def slug(text: str) -> str:
    """ASCII, lowercase, dash-separated: what a business would register as a domain."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _phone(rng: random.Random, dialing_code: str) -> str:
    if dialing_code == "+1":
        return f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    return f"{dialing_code} {rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _tax_id(rng: random.Random, country_code: str) -> str:
    if country_code == "US":
        return f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
    return f"{country_code}{rng.randint(100000000, 999999999)}"


def _near_duplicate_name(rng: random.Random, name: str) -> str:
    variants = (
        name.upper(),
        name.lower(),
        name.replace("Inc.", "Incorporated").replace("Corp.", "Corporation"),
        name.replace(" & ", " and "),
        name.rstrip(".") + " ",
        name.replace("Ltd", "Limited"),
    )
    return rng.choice(variants).strip()


def _contacts(rng: random.Random, company: SeedCompany, count: int) -> list[SeedContact]:
    contacts = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = slug(f"{first}.{last}").replace("-", ".") or "contact"
        contacts.append(
            SeedContact(
                first_name=first,
                last_name=last,
                email=f"{local}{index}@{company.domain}",
                phone=_phone(rng, DIALING_CODES[company.country_code]),
                job_title=rng.choice(JOB_TITLES),
            )
        )
    return contacts


def generate_companies(
    count: int, *, contacts_per_company: int = 0, seed: int = 0
) -> Iterator[SeedCompany]:
    """Yield ``count`` companies, the same ones for the same ``seed``, streaming."""
    rng = random.Random(seed)
    made: list[SeedCompany] = []
    # Each stem and word pair once (in a seeded order) before any repeats with a number, so
    # only the planted duplicates look alike.
    pairs = [(stem, word) for stem in NAME_STEMS for word in NAME_WORDS]
    rng.shuffle(pairs)
    originals = 0
    for number in range(count):
        roll = rng.random()
        if made and roll < EXACT_DUPLICATE_SHARE:
            original = rng.choice(made)
            company = SeedCompany(**{**original.__dict__, "contacts": []})
        elif made and roll < EXACT_DUPLICATE_SHARE + NEAR_DUPLICATE_SHARE:
            original = rng.choice(made)
            company = SeedCompany(
                **{
                    **original.__dict__,
                    "contacts": [],
                    "name": _near_duplicate_name(rng, original.name),
                }
            )
        else:
            country, code, dialing, cities = rng.choice(COUNTRIES)
            suffix = rng.choice(SUFFIXES)
            stem, word = pairs[originals % len(pairs)]
            base = f"{stem} {word}"
            # A number keeps names and domains unique past the pairs, for 100,000+ records.
            if originals >= len(pairs):
                base = f"{base} {number}"
            originals += 1
            name = f"{base} {suffix}".strip()
            domain = f"{slug(base)}.{'com' if code == 'US' else code.lower()}"
            company = SeedCompany(
                name=name,
                domain=domain,
                website=f"https://www.{domain}",
                phone=_phone(rng, dialing),
                street=f"{rng.randint(1, 250)} {rng.choice(LAST_NAMES)} Street",
                city=rng.choice(cities),
                postal_code=f"{rng.randint(10000, 99999)}",
                state="",
                country=country,
                country_code=code,
                industry=rng.choice(INDUSTRIES),
                description=f"{rng.choice(NAME_WORDS)} business founded in {rng.randint(1950, 2024)}.",
                employees=rng.choice((3, 12, 45, 120, 800, 5000)),
                annual_revenue=rng.choice((250_000, 1_200_000, 8_000_000, 75_000_000)),
                tax_id=_tax_id(rng, code),
            )
            if len(made) < 10_000:
                made.append(company)
        company.contacts = _contacts(rng, company, contacts_per_company)
        yield company
