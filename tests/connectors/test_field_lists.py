"""A connection's field lists (HubSpot's property list, Salesforce's describe) are read once
for every connector handed the same :data:`connectors.fields.FieldLists`, kept compact
(only the fields asked about), and read again for a field not asked about before."""

from __future__ import annotations

from connectors.fields import FieldLists, FieldSpec
from connectors.hubspot.records import SEGMENTS
from connectors.salesforce import SalesforceConnector
from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from tests.connectors.conftest import hubspot_connector, sf_connector

HUBSPOT_SPECS = [
    FieldSpec("company", "name"),
    FieldSpec("company", "domain"),
    FieldSpec("company", "crmsync_not_there", kind="integer"),
    FieldSpec("contact", "email"),
]
SALESFORCE_SPECS = [
    FieldSpec("account", "Website"),
    FieldSpec("account", "Crmsync_Not_There__c", kind="integer"),
    FieldSpec("contact", "Email"),
]


def test_hubspot_connectors_sharing_field_lists_read_them_once(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    kept: FieldLists = {}
    first = hubspot_connector(hubspot_sandbox, field_lists=kept)
    first.counter.calls.clear()
    report = first.prepare(HUBSPOT_SPECS)
    assert first.counter.calls.get("properties.list") == 2  # one per object type
    assert [problem.name for problem in report.problems] == ["crmsync_not_there"]

    # A connector built later for the same connection (a job on another thread).
    second = hubspot_connector(hubspot_sandbox, field_lists=kept, setup=False)
    assert second.prepare(HUBSPOT_SPECS) == report
    assert second.counter.calls.get("properties.list", 0) == 0

    # Kept: the fields asked about that the portal has, not the portal's whole list.
    companies = kept[SEGMENTS["company"]]
    assert set(companies.found) == {"name", "domain", first.options.id_property}
    listed = len(hubspot_sandbox.store.schema.all("companies"))
    assert listed > 5 * len(companies.found)
    assert companies.found["domain"] == {"type": "string", "hasUniqueValue": False}

    # A field not asked about before: that object type is listed again, once.
    more = [*HUBSPOT_SPECS, FieldSpec("company", "industry")]
    second.prepare(more)
    second.prepare(more)
    assert second.counter.calls.get("properties.list") == 1
    assert "industry" in kept[SEGMENTS["company"]].found
    assert "domain" in kept[SEGMENTS["company"]].found  # what was asked before stays

    # Another connection's connector keeps its own.
    alone = hubspot_connector(hubspot_sandbox, setup=False)
    alone.prepare(HUBSPOT_SPECS)
    assert alone.counter.calls.get("properties.list") == 2


def test_salesforce_connectors_sharing_field_lists_describe_once(
    sf_sandbox: SalesforceSandbox,
) -> None:
    kept: FieldLists = {}
    first = sf_connector(sf_sandbox, field_lists=kept)
    report = first.prepare(SALESFORCE_SPECS)
    assert [problem.name for problem in report.problems] == ["Crmsync_Not_There__c"]
    described = first.counter.calls.get("sobject.describe")

    second = sf_connector(sf_sandbox, field_lists=kept, setup=False)
    assert second.prepare(SALESFORCE_SPECS) == report
    pages = list(second.scan("account", full=True))  # queries the fields it describes
    assert pages and pages[-1].done
    assert second.counter.calls.get("sobject.describe", 0) == 0
    assert described is not None and described <= 4  # ensure_setup's fresh read, then prepare's

    accounts = kept["account"]
    assert "website" in accounts.found and "crmsync_not_there__c" not in accounts.found
    assert accounts.found["website"]["name"] == "Website"  # as Salesforce spells it
    assert len(accounts.found) < len(_describe_all(second, "Account"))


def _describe_all(connector: SalesforceConnector, sobject: str) -> list[object]:
    answer = connector.api.call(
        "sobject.describe", lambda sf, o: sf.restful(f"sobjects/{sobject}/describe/", **o)
    )
    return list(answer["fields"])
