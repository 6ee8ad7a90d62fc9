"""Map the shared, CRM-neutral seed data to Salesforce Account and Contact fields.

Industries become labels of Salesforce's standard Industry picklist (a HubSpot-style
industry has no exact twin there, which is the mapping problem a sync must solve).
Empty strings become null, as Salesforce stores them.
"""

from __future__ import annotations

from typing import Any

from sandbox.seed import SeedCompany, SeedContact

INDUSTRY_LABELS = {
    "Computer Software": "Technology",
    "Financial Services": "Finance",
    "Hospital & Health Care": "Healthcare",
    "Retail": "Retail",
    "Construction": "Construction",
    "Food & Beverages": "Food & Beverage",
    "Logistics and Supply Chain": "Transportation",
    "Government Administration": "Government",
    "Education Management": "Education",
    "Pharmaceuticals": "Biotechnology",
    "Legal Services": "Consulting",
    "Automotive": "Manufacturing",
    "Telecommunications": "Telecommunications",
    "Utilities": "Utilities",
    "Textiles": "Apparel",
    "Media Production": "Media",
}


def _or_none(value: str) -> str | None:
    return value or None


def account_row(company: SeedCompany) -> dict[str, Any]:
    return {
        "Name": company.name,
        "Website": _or_none(company.website),
        "Phone": _or_none(company.phone),
        "Industry": INDUSTRY_LABELS.get(company.industry, "Other"),
        "Description": _or_none(company.description),
        "NumberOfEmployees": company.employees,
        "AnnualRevenue": float(company.annual_revenue),
        "BillingStreet": _or_none(company.street),
        "BillingCity": _or_none(company.city),
        "BillingState": _or_none(company.state),
        "BillingPostalCode": _or_none(company.postal_code),
        "BillingCountry": _or_none(company.country),
    }


def contact_row(contact: SeedContact, account_id: str, company: SeedCompany) -> dict[str, Any]:
    return {
        "AccountId": account_id,
        "FirstName": _or_none(contact.first_name),
        "LastName": contact.last_name,
        "Email": _or_none(contact.email),
        "Phone": _or_none(contact.phone),
        "Title": _or_none(contact.job_title),
        "MailingStreet": _or_none(company.street),
        "MailingCity": _or_none(company.city),
        "MailingPostalCode": _or_none(company.postal_code),
        "MailingCountry": _or_none(company.country),
    }
