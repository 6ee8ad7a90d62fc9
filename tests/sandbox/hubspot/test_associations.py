"""Associations v4 between contacts and companies through the SDK."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.contacts import SimplePublicObjectInputForCreate

from sandbox.hubspot import HubSpotSandbox


def test_default_and_primary_associations(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    first = hubspot_sandbox.create("companies", {"name": "First"})["id"]
    second = hubspot_sandbox.create("companies", {"name": "Second"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "p@x.test"})["id"]
    basic = hubspot_client.crm.associations.v4.basic_api
    created = basic.create_default("contacts", contact, "companies", first)
    specs = {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in created.results}
    assert specs == {(contact, first, 279), (first, contact, 280)}
    labeled = basic.create(
        "contacts", contact, "companies", second,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )  # fmt: skip
    assert labeled.labels == ["Primary"]
    page = basic.get_page("contacts", contact, "companies")
    types = {
        row.to_object_id: sorted(t.type_id for t in row.association_types) for row in page.results
    }
    assert types == {first: [279], second: [1, 279]}
    assert hubspot_sandbox.get("contacts", contact)["properties"]["associatedcompanyid"] == second
    from_company = basic.get_page("companies", second, "contacts").results[0]
    assert sorted(t.type_id for t in from_company.association_types) == [2, 280]
    basic.archive("contacts", contact, "companies", second)
    assert [r.to_object_id for r in basic.get_page("contacts", contact, "companies").results] == [
        first
    ]
    assert "associatedcompanyid" not in hubspot_sandbox.get("contacts", contact)["properties"]


def test_wrong_type_ids_and_missing_records(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    company = hubspot_sandbox.create("companies", {"name": "C"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "w@x.test"})["id"]
    basic = hubspot_client.crm.associations.v4.basic_api
    with pytest.raises(ApiException) as caught:
        basic.create("contacts", contact, "companies", company,
                     [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=280)])  # fmt: skip
    assert caught.value.status == 400
    with pytest.raises(ApiException) as caught:
        basic.create_default("contacts", contact, "companies", "123")
    assert caught.value.status == 404


def test_batch_read_and_associate_default(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    companies = [hubspot_sandbox.create("companies", {"name": f"C{i}"})["id"] for i in range(3)]
    primary = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    contacts = []
    for i in range(2):
        created = hubspot_client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(
                properties={"email": f"c{i}@x.test"},
                associations=[{"to": {"id": companies[i]}, "types": primary}],
            )
        )
        contacts.append(created.id)
    batch = hubspot_client.crm.associations.v4.batch_api
    batch.create_default(
        "contacts", "companies",
        BatchInputPublicDefaultAssociationMultiPost(inputs=[{"from": {"id": contacts[0]}, "to": {"id": companies[2]}}]),
    )  # fmt: skip
    lonely = hubspot_sandbox.create("contacts", {"email": "alone@x.test"})["id"]
    read = batch.get_page(
        "contacts", "companies",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": c} for c in [*contacts, lonely]]),
    )  # fmt: skip
    found = {r._from.id: sorted(t.to_object_id for t in r.to) for r in read.results}
    assert found == {contacts[0]: sorted([companies[0], companies[2]]), contacts[1]: [companies[1]]}
    assert read.num_errors == 1 and read.errors[0].context == {"fromObjectId": [lonely]}
    with pytest.raises(ApiException) as caught:
        batch.get_page(
            "contacts", "companies",
            BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": str(i)} for i in range(1001)]),
        )  # fmt: skip
    assert caught.value.status == 400
    listed = hubspot_client.crm.contacts.basic_api.get_by_id(
        contacts[1], associations=["companies"]
    )
    assert {(a.id, a.type) for a in listed.associations["companies"].results} == {
        (companies[1], "contact_to_company"), (companies[1], "contact_to_company_unlabeled")
    }  # fmt: skip


def test_associatedcompanyid_moves_the_primary_company(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    from hubspot.crm.contacts import ApiException as ContactApiException
    from hubspot.crm.contacts import SimplePublicObjectInput

    first = hubspot_sandbox.create("companies", {"name": "First"})["id"]
    second = hubspot_sandbox.create("companies", {"name": "Second"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "m@x.test"}, company_id=first)["id"]
    contacts = hubspot_client.crm.contacts.basic_api
    contacts.update(contact, SimplePublicObjectInput(properties={"associatedcompanyid": second}))
    kinds = {
        a["id"]: a["kinds"]
        for a in hubspot_sandbox.get("contacts", contact)["associations"]["companies"]
    }
    assert kinds == {first: ["unlabeled"], second: ["primary", "unlabeled"]}
    with pytest.raises(ContactApiException) as caught:
        contacts.update(contact, SimplePublicObjectInput(properties={"associatedcompanyid": "77"}))
    assert caught.value.status == 400


def test_batch_labels_archive_removes_only_the_given_types(
    hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot
) -> None:
    company = hubspot_sandbox.create("companies", {"name": "Acme"})["id"]
    contact = hubspot_sandbox.create("contacts", {"email": "l@x.test"}, company_id=company)["id"]
    batch = hubspot_client.crm.associations.v4.batch_api
    primary = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)

    batch.archive_labels(
        "contacts", "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[PublicAssociationMultiPost(_from=PublicObjectId(id=contact),
                                               to=PublicObjectId(id=company), types=[primary])]
        ),
    )  # fmt: skip

    page = hubspot_client.crm.associations.v4.basic_api.get_page("contacts", contact, "companies")
    assert [sorted(t.type_id for t in row.association_types) for row in page.results] == [[279]]
    assert "associatedcompanyid" not in hubspot_sandbox.get("contacts", contact)["properties"]
    with pytest.raises(ApiException) as wrong_type:
        batch.archive_labels(
            "contacts", "companies",
            BatchInputPublicAssociationMultiPost(inputs=[PublicAssociationMultiPost(
                _from=PublicObjectId(id=contact), to=PublicObjectId(id=company),
                types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=2)],
            )]),
        )  # fmt: skip
    assert wrong_type.value.status == 400
