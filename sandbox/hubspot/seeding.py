"""Seed data as a HubSpot portal would hold it: ``SeedCompany`` to company properties,
industry labels to HubSpot's enumeration values, contacts associated to their company.

Seeding goes straight into the store in bulk, without webhooks or per-record checks beyond
what keeps the data consistent (a contact email HubSpot would deduplicate is skipped).
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.hubspot.associations import PRIMARY
from sandbox.hubspot.properties import INDUSTRY_VALUES
from sandbox.hubspot.records import Record, iso_ms
from sandbox.hubspot.store import PortalStore, now_ms
from sandbox.seed import SeedCompany, SeedContact

# Seed industries are labels; HubSpot stores internal enum values.
INDUSTRY_MAP = {
    "Computer Software": "COMPUTER_SOFTWARE",
    "Financial Services": "FINANCIAL_SERVICES",
    "Hospital & Health Care": "HOSPITAL_HEALTH_CARE",
    "Retail": "RETAIL",
    "Construction": "CONSTRUCTION",
    "Food & Beverages": "FOOD_BEVERAGES",
    "Logistics and Supply Chain": "LOGISTICS_AND_SUPPLY_CHAIN",
    "Government Administration": "GOVERNMENT_ADMINISTRATION",
    "Education Management": "EDUCATION_MANAGEMENT",
    "Pharmaceuticals": "PHARMACEUTICALS",
    "Legal Services": "LEGAL_SERVICES",
    "Automotive": "AUTOMOTIVE",
    "Telecommunications": "TELECOMMUNICATIONS",
    "Utilities": "UTILITIES",
    "Textiles": "TEXTILES",
    "Media Production": "MEDIA_PRODUCTION",
}
assert set(INDUSTRY_MAP.values()) <= set(INDUSTRY_VALUES)


def company_properties(company: SeedCompany) -> dict[str, str]:
    props = {
        "name": company.name,
        "domain": company.domain,
        "website": company.website,
        "phone": company.phone,
        "address": company.street,
        "city": company.city,
        "zip": company.postal_code,
        "state": company.state,
        "country": company.country,
        "industry": INDUSTRY_MAP.get(company.industry, ""),
        "description": company.description,
        "numberofemployees": str(company.employees),
        "annualrevenue": str(company.annual_revenue),
    }
    return {key: value for key, value in props.items() if value}


def contact_properties(contact: SeedContact, company: SeedCompany) -> dict[str, str]:
    props = {
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "jobtitle": contact.job_title,
        "company": company.name,
    }
    return {key: value for key, value in props.items() if value}


def seed_store(store: PortalStore, companies: Iterable[SeedCompany]) -> tuple[int, int]:
    """Insert companies and their contacts; returns (companies, contacts) added."""
    made_companies = made_contacts = 0
    with store.lock:
        emails = store.unique_index("contacts", "email")
        for company in companies:
            company_record = _insert(store, "companies", company_properties(company))
            made_companies += 1
            for contact in company.contacts:
                props = contact_properties(contact, company)
                if props.get("email", "").lower() in emails:
                    continue  # HubSpot keeps one contact per email
                props["associatedcompanyid"] = str(company_record.id)
                contact_record = _insert(store, "contacts", props)
                emails[props["email"].lower()] = contact_record.id
                store.associations.add(contact_record.id, company_record.id, {PRIMARY})
                made_contacts += 1
        store.version += 1
    return made_companies, made_contacts


def _insert(store: PortalStore, object_type: str, props: dict[str, str]) -> Record:
    table = store.tables[object_type]
    stamp = now_ms()
    record_id = table.new_id()
    stamp_iso = iso_ms(stamp)
    props["createdate"] = stamp_iso
    props["hs_object_id"] = str(record_id)
    props["hs_lastmodifieddate" if object_type == "companies" else "lastmodifieddate"] = stamp_iso
    record = Record(id=record_id, props=props, created_ms=stamp, updated_ms=stamp)
    record.indexed = record.props  # seeded data is already indexed
    table.add(record)
    return record
