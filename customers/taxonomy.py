"""The directory's category taxonomy: what kind of business a customer is.

A customer has a ``category`` and, optionally, a ``subcategory`` inside it, both stored as
slugs (``technology`` / ``software``). The taxonomy is deliberately small (14 categories,
a handful of subcategories each): it is what AR reports group by and what a categorizer
must choose from, so every entry has to be distinguishable by a person reading one line
about the customer. CRM industry values (HubSpot's enumeration, Salesforce's picklist) are
translated to and from these slugs by the value maps in ``mappings/maps``.

This module is data plus lookups. It must not import anything that does I/O, and slugs
must never be renamed: they are stored on customers and referenced by map files. Add new
entries instead, and keep ``other`` as the catch-all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Subcategory:
    slug: str
    label: str
    description: str


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    label: str
    description: str
    subcategories: tuple[Subcategory, ...] = ()

    def subcategory(self, slug: str) -> Subcategory | None:
        return next((sub for sub in self.subcategories if sub.slug == slug), None)


def _sub(slug: str, label: str, description: str) -> Subcategory:
    return Subcategory(slug, label, description)


CATEGORIES: tuple[Category, ...] = (
    Category(
        "technology",
        "Technology",
        "Makes or runs software, computers, networks or online services.",
        (
            _sub("software", "Software", "Sells software products or SaaS."),
            _sub("it_services", "IT services", "IT consulting, outsourcing, managed services."),
            _sub("hardware", "Hardware", "Computers, devices and their components."),
            _sub("internet", "Internet", "Online platforms, marketplaces, web services."),
            _sub("telecommunications", "Telecommunications", "Carriers, ISPs, networks."),
        ),
    ),
    Category(
        "finance",
        "Finance",
        "Moves, lends, insures or accounts for money.",
        (
            _sub("banking", "Banking", "Banks and credit unions."),
            _sub("financial_services", "Financial services", "Investment, payments, lending."),
            _sub("insurance", "Insurance", "Insurers and brokers."),
            _sub("accounting", "Accounting", "Accountants, auditors, tax advisers."),
        ),
    ),
    Category(
        "healthcare",
        "Healthcare",
        "Treats patients or makes what treatment needs.",
        (
            _sub("hospitals_clinics", "Hospitals and clinics", "Care providers, practices."),
            _sub("pharmaceuticals", "Pharmaceuticals", "Drug makers and distributors."),
            _sub("medical_devices", "Medical devices", "Equipment and supplies."),
            _sub("biotechnology", "Biotechnology", "Life-science research and products."),
        ),
    ),
    Category(
        "manufacturing",
        "Manufacturing",
        "Makes physical goods for other businesses or for consumers.",
        (
            _sub("industrial_machinery", "Industrial machinery", "Machines and tools."),
            _sub("automotive", "Automotive", "Vehicles and parts."),
            _sub("chemicals", "Chemicals", "Chemicals, plastics, materials."),
            _sub("electronics", "Electronics", "Electronic components and appliances."),
            _sub("textiles_apparel", "Textiles and apparel", "Fabrics, clothing, fashion."),
        ),
    ),
    Category(
        "retail",
        "Retail and wholesale",
        "Sells goods made by others.",
        (
            _sub("stores", "Stores", "Physical shops and chains."),
            _sub("ecommerce", "E-commerce", "Online shops."),
            _sub("wholesale", "Wholesale", "Distributors selling to businesses."),
            _sub("consumer_goods", "Consumer goods", "Brands of everyday products."),
        ),
    ),
    Category(
        "food_hospitality",
        "Food and hospitality",
        "Makes or serves food and drink, or hosts guests.",
        (
            _sub("food_production", "Food production", "Food processing and packaging."),
            _sub("food_and_beverage", "Food and beverage", "Food and drink companies."),
            _sub("restaurants", "Restaurants", "Restaurants, cafés, catering."),
            _sub("hospitality", "Hospitality", "Hotels, travel and leisure venues."),
        ),
    ),
    Category(
        "construction_real_estate",
        "Construction and real estate",
        "Builds, designs, supplies or manages buildings and land.",
        (
            _sub("construction", "Construction", "Builders and contractors."),
            _sub("building_materials", "Building materials", "Materials and fittings."),
            _sub("architecture", "Architecture", "Architects and planners."),
            _sub("real_estate", "Real estate", "Agents, owners, property managers."),
        ),
    ),
    Category(
        "logistics",
        "Logistics and transport",
        "Moves and stores goods or people.",
        (
            _sub("transportation", "Transportation", "Trucking, rail, passenger transport."),
            _sub("shipping", "Shipping", "Freight forwarding, maritime, couriers."),
            _sub("supply_chain", "Supply chain", "Warehousing and supply-chain services."),
            _sub("aviation", "Aviation", "Airlines and airports."),
        ),
    ),
    Category(
        "professional_services",
        "Professional services",
        "Sells expertise by the hour or by the project.",
        (
            _sub("legal", "Legal", "Law firms and legal services."),
            _sub("consulting", "Consulting", "Management and strategy consulting."),
            _sub("engineering", "Engineering", "Engineering and technical services."),
            _sub("marketing_advertising", "Marketing and advertising", "Agencies."),
            _sub("staffing", "Staffing", "Recruiting and temporary staffing."),
        ),
    ),
    Category(
        "public_sector",
        "Public sector and non-profit",
        "Serves the public rather than shareholders.",
        (
            _sub("government", "Government", "Public administration at any level."),
            _sub("education", "Education", "Schools, universities, training."),
            _sub("non_profit", "Non-profit", "Charities, associations, foundations."),
            _sub("defense", "Defense", "Defense and space."),
        ),
    ),
    Category(
        "energy_utilities",
        "Energy and utilities",
        "Produces or delivers energy, water or environmental services.",
        (
            _sub("utilities", "Utilities", "Electricity, gas and water supply."),
            _sub("oil_gas", "Oil and gas", "Extraction, refining, fuel."),
            _sub("renewables", "Renewables", "Solar, wind, storage."),
            _sub("environmental", "Environmental services", "Waste, recycling, cleanup."),
        ),
    ),
    Category(
        "media_entertainment",
        "Media and entertainment",
        "Makes or publishes content, or entertains.",
        (
            _sub("media_production", "Media production", "Film, TV, audio, studios."),
            _sub("publishing", "Publishing", "News, books, magazines."),
            _sub("entertainment", "Entertainment", "Events, games, music."),
            _sub("recreation", "Recreation", "Sports, fitness, leisure."),
        ),
    ),
    Category(
        "agriculture",
        "Agriculture",
        "Grows, raises or harvests natural products.",
        (
            _sub("farming", "Farming", "Crops and livestock."),
            _sub("forestry", "Forestry", "Timber and forest products."),
            _sub("fishing", "Fishing", "Fisheries and aquaculture."),
        ),
    ),
    Category("other", "Other", "Fits none of the categories above."),
)

_BY_SLUG = {category.slug: category for category in CATEGORIES}


def get(category: str) -> Category | None:
    """The category with this slug, or None."""
    return _BY_SLUG.get(category)


def is_valid(category: str | None, subcategory: str | None = None) -> bool:
    """True when ``category`` is a known slug and ``subcategory`` is blank or one of its
    subcategories. No category with a subcategory is never valid."""
    if category is None:
        return subcategory is None
    found = _BY_SLUG.get(category)
    if found is None:
        return False
    return subcategory is None or found.subcategory(subcategory) is not None


def label(category: str, subcategory: str | None = None) -> str:
    """What a person reads: 'Technology' or 'Technology / Software'. Raises ``KeyError``
    for slugs the taxonomy does not know."""
    found = _BY_SLUG[category]
    if subcategory is None:
        return found.label
    sub = found.subcategory(subcategory)
    if sub is None:
        raise KeyError(f"{category}/{subcategory}")
    return f"{found.label} / {sub.label}"


def labels() -> dict[str, str]:
    """Every valid ``category`` and ``category/subcategory`` slug with its label, in
    taxonomy order (what a picker or a categorizer prompt lists)."""
    result: dict[str, str] = {}
    for category in CATEGORIES:
        result[category.slug] = category.label
        for sub in category.subcategories:
            result[f"{category.slug}/{sub.slug}"] = f"{category.label} / {sub.label}"
    return result


def choices() -> list[tuple[str, str | None]]:
    """Every valid (category, subcategory) pair, a category alone included."""
    pairs: list[tuple[str, str | None]] = []
    for category in CATEGORIES:
        pairs.append((category.slug, None))
        pairs.extend((category.slug, sub.slug) for sub in category.subcategories)
    return pairs
