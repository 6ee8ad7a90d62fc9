"""Properties v3 as the unchanged SDK meets it: property groups, updating a property, the
batch verbs, and archiving; literal path segments (``groups``, ``batch``) never fall into
the ``{propertyName}`` routes."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import (
    ApiException,
    BatchInputPropertyCreate,
    BatchInputPropertyName,
    BatchReadInputPropertyName,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyName,
    PropertyUpdate,
)

from sandbox.hubspot import HubSpotSandbox


def tier_property(name: str = "tier", group: str = "crmsync") -> PropertyCreate:
    return PropertyCreate(
        name=name, label="Tier", type="enumeration", field_type="select", group_name=group,
        options=[OptionInput(label="Gold", value="gold", hidden=False, display_order=0)],
    )  # fmt: skip


def test_property_groups(hubspot_client: HubSpot) -> None:
    groups = hubspot_client.crm.properties.groups_api
    assert [g.name for g in groups.get_all("companies").results] == ["companyinformation"]

    created = groups.create(
        "companies", PropertyGroupCreate(name="crmsync", label="Sync", display_order=3)
    )
    assert (created.name, created.label, created.display_order, created.archived) == (
        "crmsync", "Sync", 3, False,
    )  # fmt: skip
    updated = groups.update("companies", "crmsync", PropertyGroupUpdate(label="Synced fields"))
    assert (updated.label, updated.display_order) == ("Synced fields", 3)
    assert groups.get_by_name("companies", "crmsync").label == "Synced fields"
    assert {g.name for g in groups.get_all("companies").results} == {
        "companyinformation",
        "crmsync",
    }
    assert [g.name for g in groups.get_all("contacts").results] == ["contactinformation"]

    with pytest.raises(ApiException) as missing:
        groups.get_by_name("companies", "nope")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as twice:
        groups.create("companies", PropertyGroupCreate(name="crmsync", label="Again"))
    assert twice.value.status == 409

    groups.archive("companies", "crmsync")
    assert [g.name for g in groups.get_all("companies").results] == ["companyinformation"]
    with pytest.raises(ApiException) as builtin:
        groups.archive("companies", "companyinformation")
    assert builtin.value.status == 400


def test_a_property_needs_an_existing_group(hubspot_client: HubSpot) -> None:
    core = hubspot_client.crm.properties.core_api
    with pytest.raises(ApiException) as refused:
        core.create("companies", tier_property(group="nowhere"))
    assert refused.value.status == 400
    assert "nowhere" in refused.value.body

    hubspot_client.crm.properties.groups_api.create(
        "companies", PropertyGroupCreate(name="crmsync", label="Sync")
    )
    created = core.create("companies", tier_property())
    assert created.group_name == "crmsync"
    # A group that still holds properties is not archived.
    with pytest.raises(ApiException):
        hubspot_client.crm.properties.groups_api.archive("companies", "crmsync")


def test_update_a_property(hubspot_sandbox: HubSpotSandbox, hubspot_client: HubSpot) -> None:
    core = hubspot_client.crm.properties.core_api
    hubspot_client.crm.properties.groups_api.create(
        "companies", PropertyGroupCreate(name="crmsync", label="Sync")
    )
    core.create("companies", tier_property())

    updated = core.update(
        "companies", "tier",
        PropertyUpdate(label="Customer tier", group_name="companyinformation", options=[
            OptionInput(label="Gold", value="gold", hidden=False, display_order=0),
            OptionInput(label="Silver", value="silver", hidden=False, display_order=1),
        ]),
    )  # fmt: skip
    assert (updated.label, updated.group_name) == ("Customer tier", "companyinformation")
    assert [(o.label, o.value) for o in updated.options] == [("Gold", "gold"), ("Silver", "silver")]
    assert core.get_by_name("companies", "tier").label == "Customer tier"
    # The new option is a valid value from now on.
    hubspot_sandbox.create("companies", {"name": "Acme", "tier": "silver"})

    with pytest.raises(ApiException) as builtin:
        core.update("companies", "name", PropertyUpdate(label="Company"))
    assert builtin.value.status == 400
    with pytest.raises(ApiException) as missing:
        core.update("companies", "nope", PropertyUpdate(label="Nope"))
    assert missing.value.status == 404
    with pytest.raises(ApiException) as no_group:
        core.update("companies", "tier", PropertyUpdate(group_name="nowhere"))
    assert no_group.value.status == 400


def test_batch_read_create_and_archive(hubspot_client: HubSpot) -> None:
    batch = hubspot_client.crm.properties.batch_api
    created = batch.create(
        "contacts",
        BatchInputPropertyCreate(inputs=[
            tier_property("tier", "contactinformation"),
            tier_property("segment", "contactinformation"),
        ]),
    )  # fmt: skip
    assert sorted(p.name for p in created.results) == ["segment", "tier"]

    read = batch.read(
        "contacts",
        BatchReadInputPropertyName(
            inputs=[PropertyName(name="email"), PropertyName(name="tier")],
            archived=False,
        ),
    )  # fmt: skip
    assert sorted(p.name for p in read.results) == ["email", "tier"]
    partly = batch.read(
        "contacts",
        BatchReadInputPropertyName(
            inputs=[PropertyName(name="tier"), PropertyName(name="nope")],
            archived=False,
        ),
    )  # fmt: skip
    assert [p.name for p in partly.results] == ["tier"]
    assert partly.errors[0].context == {"propertyName": ["nope"]}

    again = batch.create(
        "contacts", BatchInputPropertyCreate(inputs=[tier_property("tier", "contactinformation")])
    )
    assert again.results == [] and again.errors[0].category == "OBJECT_ALREADY_EXISTS"

    batch.archive("contacts", BatchInputPropertyName(inputs=[PropertyName(name="segment")]))
    core = hubspot_client.crm.properties.core_api
    assert "segment" not in {p.name for p in core.get_all("contacts").results}
    assert core.get_by_name("contacts", "segment", archived=True).archived is True
    core.archive("contacts", "tier")
    with pytest.raises(ApiException):
        core.get_by_name("contacts", "tier")
