"""The three-way merge, rule by rule, with examples a reviewer can check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mappings.engine import read_remote
from mappings.loader import load_map, parse_map
from mappings.merge import MergeResult, Side, merge, outbound_changes, unpushed_base
from mappings.spec import ObjectMap, Rule
from tests.mappings.helpers import apply

EARLIER = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(minutes=5)


def one_field_map(rule: Rule, *, required: bool = False) -> ObjectMap:
    """A contact map with one text field (job_title <-> jobtitle) under ``rule``."""
    return parse_map(
        {
            "provider": "hubspot",
            "object": "contact",
            "local": "contact",
            "fields": [
                {"local": "job_title", "remote": "jobtitle", "rule": rule.value},
                {"local": "last_name", "remote": "lastname", "required": required},
            ],
        },
        source="test.yaml",
    )


def run(
    rule: Rule,
    *,
    base: str | None,
    local: str | None,
    remote: str | None,
    local_changed_at: datetime | None = None,
    remote_modified_at: datetime | None = None,
) -> MergeResult:
    return merge(
        one_field_map(rule),
        base={"job_title": base},
        local={"job_title": local},
        remote={"jobtitle": remote or ""},
        local_changed_at=local_changed_at,
        remote_modified_at=remote_modified_at,
    )


SYNCING = [rule for rule in Rule if rule is not Rule.DONT_SYNC]


@pytest.mark.parametrize("rule", SYNCING)
def test_no_change_on_either_side_does_nothing(rule: Rule) -> None:
    result = run(rule, base="CFO", local="CFO", remote="CFO")
    assert not result.changed and result.conflicts == ()
    assert result.base == {"job_title": "CFO"}


@pytest.mark.parametrize("rule", SYNCING)
@pytest.mark.parametrize("new", ["CEO", None])
def test_a_local_change_alone_is_pushed_for_every_rule(rule: Rule, new: str | None) -> None:
    result = run(rule, base="CFO", local=new, remote="CFO")
    assert result.remote_writes == {"jobtitle": new or ""}
    assert result.local_writes == {} and result.conflicts == ()
    assert result.base == {"job_title": new}


@pytest.mark.parametrize("rule", SYNCING)
@pytest.mark.parametrize("new", ["CEO", None])
def test_a_crm_change_alone_is_written_locally_for_every_rule(rule: Rule, new: str | None) -> None:
    result = run(rule, base="CFO", local="CFO", remote=new)
    assert result.local_writes == {"job_title": new}
    assert result.remote_writes == {} and result.conflicts == ()
    assert result.base == {"job_title": new}


@pytest.mark.parametrize("rule", SYNCING)
def test_the_same_change_on_both_sides_is_no_conflict(rule: Rule) -> None:
    result = run(rule, base="CFO", local="CEO", remote="CEO")
    assert not result.changed and result.conflicts == ()
    assert result.base == {"job_title": "CEO"}
    # Said apart: the CRM's value may be our own write whose record was lost.
    assert result.converged == ("job_title",)
    assert run(rule, base="CEO", local="CEO", remote="CEO").converged == ()
    assert run(rule, base="CFO", local="CEO", remote="CFO").converged == ()


@pytest.mark.parametrize(
    ("rule", "local", "remote", "times", "winner"),
    [
        (Rule.TWO_WAY, "CEO", "COO", (LATER, EARLIER), Side.LOCAL),
        (Rule.TWO_WAY, "CEO", "COO", (EARLIER, LATER), Side.CRM),
        (Rule.TWO_WAY, "CEO", "COO", (EARLIER, EARLIER), Side.CRM),  # a tie: the CRM
        (Rule.TWO_WAY, "CEO", "COO", (None, EARLIER), Side.CRM),  # unknown: the CRM
        (Rule.TWO_WAY, "CEO", None, (EARLIER, LATER), Side.CRM),  # a later clear wins
        (Rule.PREFER_CRM_UNLESS_BLANK, "CEO", "COO", (LATER, EARLIER), Side.CRM),
        (Rule.PREFER_CRM_UNLESS_BLANK, "CEO", None, (EARLIER, LATER), Side.LOCAL),
        (Rule.PREFER_CRM_UNLESS_BLANK, None, "COO", (LATER, EARLIER), Side.CRM),
        (Rule.ALWAYS_CRM, "CEO", "COO", (LATER, EARLIER), Side.CRM),
        (Rule.ALWAYS_CRM, "CEO", None, (LATER, EARLIER), Side.CRM),
        (Rule.ALWAYS_LOCAL, "CEO", "COO", (EARLIER, LATER), Side.LOCAL),
        (Rule.ALWAYS_LOCAL, None, "COO", (EARLIER, LATER), Side.LOCAL),
    ],
)
def test_a_conflict_is_decided_by_the_rule_and_recorded(
    rule: Rule,
    local: str | None,
    remote: str | None,
    times: tuple[datetime | None, datetime | None],
    winner: Side,
) -> None:
    result = run(
        rule,
        base="CFO",
        local=local,
        remote=remote,
        local_changed_at=times[0],
        remote_modified_at=times[1],
    )
    resolved = local if winner is Side.LOCAL else remote
    (conflict,) = result.conflicts
    assert (conflict.field, conflict.base, conflict.local, conflict.remote) == (
        "job_title",
        "CFO",
        local,
        remote,
    )
    assert (conflict.resolved, conflict.rule, conflict.winner) == (resolved, rule.value, winner)
    if winner is Side.LOCAL:
        assert result.remote_writes == {"jobtitle": local or ""} and result.local_writes == {}
    else:
        assert result.local_writes == {"job_title": remote} and result.remote_writes == {}
    assert result.base == {"job_title": resolved}


def test_dont_sync_is_never_read_written_or_kept_in_the_base() -> None:
    result = run(Rule.DONT_SYNC, base="CFO", local="CEO", remote="COO")
    assert not result.changed and result.conflicts == ()
    assert "job_title" not in result.base
    assert "jobtitle" not in one_field_map(Rule.DONT_SYNC).remote_properties


def test_first_sync_fills_blanks_both_ways_without_conflicts() -> None:
    result = merge(
        one_field_map(Rule.ALWAYS_CRM),
        base={},
        local={"job_title": "CFO", "last_name": None},
        remote={"jobtitle": "", "lastname": "Smith"},
    )
    assert result.remote_writes == {"jobtitle": "CFO"}
    assert result.local_writes == {"last_name": "Smith"}
    assert result.conflicts == ()
    assert result.base == {"job_title": "CFO", "last_name": "Smith"}


def test_first_sync_with_two_different_values_is_a_conflict() -> None:
    result = merge(
        one_field_map(Rule.ALWAYS_LOCAL),
        base={},
        local={"job_title": "CFO"},
        remote={"jobtitle": "Finance"},
    )
    (conflict,) = result.conflicts
    assert conflict.base is None and conflict.winner is Side.LOCAL
    assert result.remote_writes == {"jobtitle": "CFO"}


def test_an_absent_crm_property_is_unchanged_and_a_new_field_waits_for_a_value() -> None:
    result = merge(
        one_field_map(Rule.TWO_WAY),
        base={"job_title": "CFO"},
        local={"job_title": "CEO", "last_name": "Smith"},
        remote={},
    )
    assert result.remote_writes == {"jobtitle": "CEO"}
    # last_name has no base and no CRM value: nothing is known to merge against.
    assert result.base == {"job_title": "CEO"}


def test_an_unreadable_crm_value_is_reported_and_treated_as_unchanged() -> None:
    hubspot = load_map("hubspot", "contact")
    result = merge(
        hubspot,
        base={"email": "anna@acme.de"},
        local={"email": "anna@acme.com"},
        remote={"email": "anna@"},
    )
    assert "email" in result.problems and "anna@" in result.problems["email"]
    assert result.remote_writes == {"email": "anna@acme.com"}  # the local change still goes
    assert result.local_writes == {}


def test_an_echo_of_our_own_write_is_a_no_op() -> None:
    object_map = one_field_map(Rule.TWO_WAY)
    first = merge(
        object_map,
        base={"job_title": "CFO"},
        local={"job_title": "CEO"},
        remote={"jobtitle": "CFO"},
    )
    assert first.remote_writes == {"jobtitle": "CEO"}
    echo = merge(
        object_map,
        base=first.base,
        local={"job_title": "CEO"},
        remote={"jobtitle": "CEO"},
        remote_modified_at=LATER,
    )
    assert not echo.changed and echo.conflicts == () and echo.fingerprint == first.fingerprint


def test_a_value_the_crm_already_has_in_its_own_format_is_not_pushed() -> None:
    result = merge(
        load_map("hubspot", "contact"),
        base={},
        local={"phone": "+49301234567"},
        remote={"phone": "+49 (30) 123-4567"},
    )
    assert not result.changed
    assert result.base == {"phone": "+49301234567", "_crm:phone": "+49 (30) 123-4567"}


def test_a_crm_phone_does_not_change_because_the_billing_country_did() -> None:
    """HubSpot holds '089 123456', read in Germany as +4989123456. The billing country
    then becomes Austria (from Salesforce): the same CRM text now reads as an Austrian
    number, but nobody edited the phone, so nothing is written anywhere."""
    company = load_map("hubspot", "company")
    local = {"name": "Acme", "phone": "+4989123456", "billing_country": "DE"}
    remote = {"name": "Acme", "phone": "089 123456", "country": "Germany"}
    first = merge(company, base={}, local=local, remote=remote)
    assert first.base["phone"] == "+4989123456" and not first.local_writes
    moved = merge(company, base=first.base, local={**local, "billing_country": "AT"},
                  remote=remote, remote_modified_at=LATER)  # fmt: skip
    assert "phone" not in moved.local_writes and "phone" not in moved.remote_writes
    assert moved.remote_writes == {"country": "Austria"}
    # An edit of the CRM's text is still an edit, read in the country now settled.
    edited = merge(company, base=moved.base, local={**local, "billing_country": "AT"},
                   remote={**remote, "phone": "01 234567", "country": "Austria"},
                   remote_modified_at=LATER)  # fmt: skip
    assert edited.local_writes == {"phone": "+431234567"}


def test_a_required_crm_field_is_never_blanked_its_value_comes_back() -> None:
    salesforce = load_map("salesforce", "contact")
    result = merge(
        salesforce,
        base={"last_name": "Smith"},
        local={"first_name": "Anna", "last_name": None},
        remote={"LastName": "Smith"},
    )
    assert result.remote_writes == {}
    assert result.local_writes == {"last_name": "Smith"}
    assert result.base["last_name"] == "Smith"


def test_street_lines_merge_as_one_crm_field() -> None:
    salesforce = load_map("salesforce", "account")
    result = merge(
        salesforce,
        base={"billing_street": "1 Main St", "billing_street2": None},
        local={"billing_street": "1 Main St", "billing_street2": "Suite 5"},
        remote={"BillingStreet": "1 Main St"},
    )
    assert result.remote_writes == {"BillingStreet": "1 Main St\nSuite 5"}
    conflicting = merge(
        salesforce,
        base={"billing_street": "1 Main St", "billing_street2": None},
        local={"billing_street": "1 Main St", "billing_street2": "Suite 5"},
        remote={"BillingStreet": "2 Main St"},
        local_changed_at=EARLIER,
        remote_modified_at=LATER,
    )
    (conflict,) = conflicting.conflicts
    assert conflict.field == "billing_street+billing_street2"
    assert conflict.local == {"billing_street": "1 Main St", "billing_street2": "Suite 5"}
    assert conflict.resolved == {"billing_street": "2 Main St", "billing_street2": None}
    assert conflicting.local_writes == {"billing_street": "2 Main St", "billing_street2": None}


def customer(**values: Any) -> dict[str, Any]:
    return {"name": "Acme", **values}


def test_a_local_detail_the_crm_cannot_hold_is_pushed_once_and_kept() -> None:
    salesforce = load_map("salesforce", "account")
    local = customer(category="healthcare", subcategory="medical_devices")
    remote = {"Name": "Acme", "Industry": "Banking"}
    base = {"name": "Acme", "category": "finance", "subcategory": "banking"}
    first = merge(salesforce, base=base, local=local, remote=remote)
    assert first.remote_writes == {"Industry": "Healthcare"}
    assert first.local_writes == {}  # the local subcategory stays
    assert first.base["subcategory"] is None  # what the CRM holds, in local form
    local, remote = apply(salesforce, first, local, remote)
    again = merge(salesforce, base=first.base, local=local, remote=remote)
    assert not again.changed and again.conflicts == ()


def test_a_customer_known_by_domain_only_gets_a_website_in_salesforce() -> None:
    salesforce = load_map("salesforce", "account")
    local = customer(website=None, domain="acme.de")
    first = merge(salesforce, base={}, local=local, remote={"Name": "Acme", "Website": None})
    assert first.remote_writes == {"Website": "https://acme.de"}
    assert first.local_writes == {}
    local, remote = apply(salesforce, first, local, {"Name": "Acme", "Website": None})
    assert not merge(salesforce, base=first.base, local=local, remote=remote).changed


def test_phones_are_read_in_the_country_the_merge_settles_on() -> None:
    hubspot = load_map("hubspot", "company")
    local = customer(phone=None, billing_country="FR")
    remote = {"name": "Acme", "phone": "030 1234567", "country": "Germany"}
    result = merge(
        hubspot,
        base={"phone": None, "billing_country": "FR"},
        local=local,
        remote=remote,
    )
    assert result.local_writes == {"billing_country": "DE", "phone": "+49301234567"}


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run(Rule.TWO_WAY, base="a", local="b", remote="c", local_changed_at=datetime(2026, 1, 1))


def test_a_push_without_a_crm_read_sends_changes_and_values_new_to_the_map() -> None:
    salesforce = load_map("salesforce", "contact")
    properties, new_base = outbound_changes(
        salesforce,
        base={"first_name": "Anna", "last_name": "Smith", "job_title": "CFO"},
        local={"first_name": "Anna", "last_name": None, "job_title": "CEO", "email": "a@b.de"},
    )
    # LastName is required in Salesforce: its blank is not pushed.
    assert properties == {"Title": "CEO", "Email": "a@b.de"}
    assert new_base == {"job_title": "CEO", "email": "a@b.de"}


@pytest.mark.parametrize("rule", SYNCING)
@pytest.mark.parametrize("base", ["CFO", None])
def test_a_crm_blank_kept_over_is_filled_with_the_local_value(rule: Rule, base: str | None) -> None:
    """``on_blank: keep``: the CRM's blank is not known, so the local value stays and is
    written to the CRM; the entry has no base until the push lands, so an outbox push
    (which knows no CRM value) sends it too rather than reading it as already there."""
    kept = parse_map(
        {"provider": "hubspot", "object": "contact", "local": "contact",
         "fields": [{"local": "job_title", "remote": "jobtitle", "rule": rule.value, "on_blank": "keep"}]},
        source="test.yaml",
    )  # fmt: skip
    for blank in ("", None, "  "):
        result = merge(kept, base={"job_title": base} if base else {}, local={"job_title": "CFO"},
                       remote={"jobtitle": blank})  # fmt: skip
        assert result.local_writes == {} and result.conflicts == ()
        assert result.remote_writes == {"jobtitle": "CFO"}
        assert "job_title" not in result.base
        assert outbound_changes(kept, result.base, {"job_title": "CFO"}) == (
            {"jobtitle": "CFO"}, {"job_title": "CFO"},
        )  # fmt: skip
    both_blank = merge(kept, base={}, local={"job_title": None}, remote={"jobtitle": ""})
    assert both_blank.remote_writes == {} and both_blank.local_writes == {}


def _full_read_base(object_map: ObjectMap, result: MergeResult, remote: dict[str, Any]) -> dict:
    """What the page stores for a merge with writes to push: the whole record read."""
    base = dict(result.base)
    read, _ = read_remote(object_map, remote)
    for entry in object_map.synced:
        if entry.remote in result.remote_writes and entry.key in read:
            base.update(zip(entry.local, read[entry.key], strict=True))
    return base


@pytest.mark.parametrize(
    "remote",
    [
        {"name": "Acme", "crmsync_status": "", "phone": "", "country": "Germany"},
        {"name": "Acme", "crmsync_status": "", "phone": "0221 12345678", "country": "Germany"},
        {"name": "Acme", "crmsync_status": "lead", "phone": "", "country": "France"},
        {"name": "Acme", "crmsync_customer_type": "", "crmsync_tax_rate": "", "country": "DE"},
    ],
)
def test_the_unpushed_base_keeps_the_crms_values_of_the_entries_to_push(
    remote: dict[str, Any],
) -> None:
    company = load_map("hubspot", "company")
    local = {
        "name": "Acme",
        "status": "active",
        "customer_type": "business",
        "tax_rate": "19",
        "phone": "+4922112345678",
        "billing_country": "DE",
    }
    result = merge(company, base={}, local=local, remote=remote)
    assert result.remote_writes
    assert unpushed_base(company, result, remote) == _full_read_base(company, result, remote)
    unchanged = merge(company, base={}, local=local, remote={})
    assert unpushed_base(company, unchanged, {}) == unchanged.base
