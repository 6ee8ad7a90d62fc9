"""HubSpot reads and writes against the sandbox: fetch follows merges and reports deletions,
upserts keyed on our own id never duplicate, one bad record never fails the batch."""

from __future__ import annotations

import pytest

from connectors.base import WriteRequest
from connectors.errors import Duplicate, Permanent
from connectors.hubspot import HubSpotConnector
from sandbox.hubspot import HubSpotSandbox
from tests.connectors.conftest import hubspot_connector


def _companies(count: int, prefix: str = "L") -> list[WriteRequest]:
    return [
        WriteRequest(object_type="company", local_id=f"{prefix}{n}",
                     properties={"name": f"Company {n}", "city": "Oslo"})
        for n in range(count)
    ]  # fmt: skip


def test_ensure_setup_creates_a_unique_id_property_once(hubspot_sandbox: HubSpotSandbox) -> None:
    connector = hubspot_connector(hubspot_sandbox)
    connector.ensure_setup()
    assert connector.counter.calls["properties.create"] == 2  # companies and contacts, once
    assert connector.counter.calls["properties.groups.create"] == 2
    for segment in ("companies", "contacts"):
        assert hubspot_sandbox.store.is_unique_property(segment, "crmsync_id")
        # In crmsync's own property group, which HubSpot shows as such.
        prop = hubspot_sandbox.store.schema.get(segment, "crmsync_id")
        assert prop is not None and prop.group_name == "crmsync"
        group = connector.api.sdk("crm.properties.groups_api").get_by_name(segment, "crmsync")
        assert group.label == "crmsync"


def test_ensure_setup_refuses_a_property_that_is_not_unique(
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    hubspot_sandbox.create_property("companies", "crmsync_id", unique=False)
    with pytest.raises(Permanent, match="crmsync_id") as caught:
        hubspot_connector(hubspot_sandbox)
    assert caught.value.code == "ID_PROPERTY_NOT_UNIQUE"


def test_upserting_the_same_batch_twice_creates_nothing_new(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    first = hubspot.upsert("company", _companies(150))
    assert all(r.ok and r.created for r in first)
    assert len(hubspot_sandbox.ids("companies")) == 150
    again = hubspot.upsert("company", _companies(150))
    assert all(r.ok and not r.created for r in again)
    assert [r.external_id for r in again] == [r.external_id for r in first]
    assert len(hubspot_sandbox.ids("companies")) == 150
    assert hubspot.counter.calls["companies.batch.upsert"] == 4  # 100 + 50, twice
    stored = hubspot_sandbox.get("companies", first[7].external_id)
    assert stored is not None and stored["properties"]["crmsync_id"] == "L7"


def test_a_linked_record_is_updated_by_id_and_stamped_with_our_id(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    made = hubspot_sandbox.create("companies", {"name": "Made In HubSpot"})["id"]
    [result] = hubspot.upsert(
        "company",
        [WriteRequest(object_type="company", local_id="C-9", external_id=made,
                      properties={"phone": "+47 22 00 00 00"})],
    )  # fmt: skip
    assert result.ok and result.external_id == made and not result.created
    assert hubspot_sandbox.ids("companies") == [made]
    props = hubspot_sandbox.get("companies", made)["properties"]
    assert props["crmsync_id"] == "C-9" and props["phone"] == "+47 22 00 00 00"


def test_one_bad_record_fails_alone(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    requests = _companies(6)
    requests[3] = WriteRequest(object_type="company", local_id="L3",
                               properties={"name": "Bad", "no_such_property": "x"})  # fmt: skip
    results = hubspot.upsert("company", requests)
    assert [r.ok for r in results] == [True, True, True, False, True, True]
    assert isinstance(results[3].error, Permanent)
    assert "no_such_property" in results[3].error.message
    assert len(hubspot_sandbox.ids("companies")) == 5


def test_a_contact_whose_email_is_taken_is_a_duplicate_naming_the_holder(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    holder = hubspot_sandbox.create("contacts", {"email": "ann@acme.test", "firstname": "Ann"})
    results = hubspot.upsert(
        "contact",
        [
            WriteRequest(object_type="contact", local_id="P1",
                         properties={"email": "ANN@acme.test", "firstname": "Ann"}),
            WriteRequest(object_type="contact", local_id="P2",
                         properties={"email": "bob@acme.test", "firstname": "Bob"}),
        ],
    )  # fmt: skip
    assert isinstance(results[0].error, Duplicate)
    assert results[0].error.details["existing_id"] == holder["id"]
    assert results[1].ok and results[1].created


def test_upserted_contacts_are_associated_with_their_company(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    [company] = hubspot.upsert("company", _companies(1))
    assert company.external_id is not None
    results = hubspot.upsert(
        "contact",
        [WriteRequest(object_type="contact", local_id=f"P{n}", properties={"firstname": f"P{n}"},
                      associations=(company.external_id,)) for n in range(3)]
        + [WriteRequest(object_type="contact", local_id="P-bad", properties={"firstname": "X"},
                        associations=("20999999999",))],
    )  # fmt: skip
    assert [r.ok for r in results] == [True, True, True, False]
    assert isinstance(results[3].error, Permanent)  # written, but its company does not exist
    fetched = hubspot.fetch("contact", [r.external_id for r in results[:3] if r.external_id])
    assert all(r.associations == (company.external_id,) for r in fetched)
    assert hubspot.counter.calls["associations.batch.associate_default"] >= 1


def test_fetch_reads_live_archived_merged_and_unknown_ids(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    ids = [hubspot_sandbox.create("companies", {"name": f"Co {n}"})["id"] for n in range(4)]
    live, deleted, primary, merged = ids
    hubspot_sandbox.archive("companies", deleted)
    new = hubspot_sandbox.merge("companies", primary, merged)["id"]
    records = hubspot.fetch("company", [live, deleted, merged, "20999999999", primary])
    by_id = {r.external_id: r for r in records}
    assert by_id[live].properties["name"] == "Co 0" and not by_id[live].archived
    assert by_id[deleted].archived and by_id[deleted].properties["name"] == "Co 1"
    # Both old ids of the merge answer with its new record: each is merged into it, and
    # the new record comes along once, never as a record of an old id.
    assert by_id[merged].archived and by_id[merged].merged_into == new
    assert by_id[primary].archived and by_id[primary].merged_into == new
    assert by_id[new].merged_ids == (primary, merged) and by_id[new].properties["name"] == "Co 2"
    assert by_id["20999999999"].archived and by_id["20999999999"].merged_into is None
    assert [r.external_id for r in records] == [live, deleted, merged, "20999999999", primary, new]


def test_archive_sends_records_to_the_recycle_bin(
    hubspot_sandbox: HubSpotSandbox, hubspot: HubSpotConnector
) -> None:
    made = [r.external_id for r in hubspot.upsert("company", _companies(3))]
    hubspot.archive("company", [i for i in made if i])
    assert hubspot_sandbox.ids("companies") == []
    assert sorted(hubspot_sandbox.ids("companies", archived=True)) == sorted(made)
    assert all(r.archived for r in hubspot.fetch("company", [i for i in made if i]))
