"""Properties of the merge that must hold for every map, rule and value: no-ops stay
no-ops, one-sided changes win, echoes vanish, merging converges, winners do not depend on
which side is called local, and a round trip through a map loses nothing it owns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.engine import (
    entry_values,
    is_blank,
    local_value,
    read_entry,
    to_local,
    to_remote,
    write_entry,
)
from mappings.merge import RAW_PREFIX, MergeResult, merge, outbound_changes
from mappings.spec import ObjectMap, Rule
from tests.mappings.helpers import apply
from tests.mappings.strategies import (
    MAP_IDS,
    MAPS,
    TIMES,
    Item,
    columns,
    items,
    local_only,
    with_rules,
)

PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def synced_values(base: dict[str, object]) -> dict[str, object]:
    """A base's synced values: without the CRM's own text of phones, which is kept beside
    them as bookkeeping (and is, by nature, one side's)."""
    return {key: value for key, value in base.items() if not key.startswith(RAW_PREFIX)}


@dataclass(frozen=True)
class Scenario:
    object_map: ObjectMap
    base: dict[str, Any]
    local: dict[str, Any]
    remote: dict[str, Any]
    local_changed_at: datetime | None
    remote_modified_at: datetime | None

    def run(self, **changes: Any) -> MergeResult:
        inputs = {
            "base": self.base,
            "local": self.local,
            "remote": self.remote,
            "local_changed_at": self.local_changed_at,
            "remote_modified_at": self.remote_modified_at,
            **changes,
        }
        return merge(self.object_map, **inputs)


@st.composite
def scenarios(
    draw: st.DrawFn, object_map: ObjectMap, kind: str = "any", remote_absent: bool = True
) -> Scenario:
    """``kind``: any | unchanged | local_only (the CRM still holds the base) | remote_only."""
    base: dict[str, Any] = {}
    local: dict[str, Any] = {}
    remote: dict[str, Any] = {}
    for entry in object_map.synced:
        # A small pool per entry, so equal values on two sides are common.
        pool: list[Item] = draw(st.lists(items(object_map, entry), min_size=1, max_size=2))
        pick = st.sampled_from(pool)
        base_item: Item | None = draw(pick) if kind != "any" else draw(st.none() | pick)
        extras = local_only(entry)
        local_pick = pick if extras is None or kind == "unchanged" else pick | extras
        local_item = base_item if kind in ("unchanged", "remote_only") else draw(local_pick)
        remote_item = base_item if kind in ("unchanged", "local_only") else draw(pick)
        if base_item is not None:
            base.update(zip(entry.local, base_item[1], strict=True))
        assert local_item is not None and remote_item is not None
        local.update(zip(entry.local, local_item[1], strict=True))
        if kind == "unchanged" or not remote_absent or draw(st.integers(0, 5)) != 0:
            remote[entry.remote] = remote_item[0]
    return Scenario(object_map, base, columns(object_map, local), remote, draw(TIMES), draw(TIMES))


def by_map(test: Any) -> Any:
    return pytest.mark.parametrize("object_map", MAPS, ids=MAP_IDS)(test)


ALL_RULES = list(Rule)


def settled(scenario: Scenario, result: MergeResult) -> tuple[dict[str, Any], dict[str, Any]]:
    return apply(scenario.object_map, result, scenario.local, scenario.remote)


def remote_reads(object_map: ObjectMap, remote: dict[str, Any]) -> dict[str, Any]:
    read: dict[str, Any] = {}
    for entry in object_map.synced:
        if entry.remote in remote:
            values = read_entry(object_map, entry, remote[entry.remote], None)
            read.update(zip(entry.local, values, strict=True))
    return read


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_change_on_either_side_is_a_no_op(object_map: ObjectMap, data: st.DataObject) -> None:
    mapped = data.draw(with_rules(object_map, ALL_RULES))
    scenario = data.draw(scenarios(mapped, "unchanged"))
    result = scenario.run()
    assert not result.changed and result.conflicts == () and result.problems == {}
    assert synced_values(result.base) == scenario.base


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_crm_change_alone_always_wins(object_map: ObjectMap, data: st.DataObject) -> None:
    mapped = data.draw(with_rules(object_map, ALL_RULES))
    scenario = data.draw(scenarios(mapped, "remote_only"))
    result = scenario.run()
    assert result.remote_writes == {} and result.conflicts == ()
    local, _ = settled(scenario, result)
    # Every field the CRM reported now holds the CRM's value locally.
    for name, value in remote_reads(mapped, scenario.remote).items():
        assert local_value(local, name) == value


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_local_change_alone_always_wins_and_its_echo_is_a_no_op(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    mapped = data.draw(with_rules(object_map, ALL_RULES))
    scenario = data.draw(scenarios(mapped, "local_only"))
    result = scenario.run()
    assert result.conflicts == ()
    # Locally nothing changes, except a blank the CRM refuses: its value comes back.
    for name in result.local_writes:
        entry = mapped.entry(name)
        assert entry.required
        assert all(local_value(scenario.local, field) is None for field in entry.local)
    local, remote = settled(scenario, result)
    echo = scenario.run(base=result.base, local=local, remote=remote)
    assert not echo.changed and echo.conflicts == () and echo.base == result.base
    # What the CRM now holds reads back as the local values the map can carry.
    assert remote_reads(mapped, remote) == {
        name: value for name, value in result.base.items() if name in remote_reads(mapped, remote)
    }


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_merging_is_deterministic_and_converges(object_map: ObjectMap, data: st.DataObject) -> None:
    mapped = data.draw(with_rules(object_map, ALL_RULES))
    scenario = data.draw(scenarios(mapped))
    result = scenario.run()
    assert scenario.run() == result
    local, remote = settled(scenario, result)
    again = scenario.run(base=result.base, local=local, remote=remote)
    assert not again.changed, again
    assert again.conflicts == ()
    assert again.base == result.base and again.fingerprint == result.fingerprint
    # Conflicts only where both sides moved away from a known base (or there was none).
    for conflict in result.conflicts:
        assert conflict.local != conflict.remote


def _mirrored(scenario: Scenario) -> Scenario:
    """Local values sent as the CRM's and the CRM's as local, with their times."""
    mapped = scenario.object_map
    crm_as_local = columns(mapped, remote_reads(mapped, scenario.remote))
    local_as_crm = to_remote(mapped, scenario.local)
    return replace(
        scenario,
        local=crm_as_local,
        remote=local_as_crm,
        local_changed_at=scenario.remote_modified_at,
        remote_modified_at=scenario.local_changed_at,
    )


def _no_required(object_map: ObjectMap) -> ObjectMap:
    # A CRM-required field is asymmetric by design (only the CRM refuses blanks).
    return replace(
        object_map, fields=tuple(replace(entry, required=False) for entry in object_map.fields)
    )


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_two_way_does_not_depend_on_which_side_is_local(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    mapped = data.draw(with_rules(_no_required(object_map), [Rule.TWO_WAY]))
    # Ties and unknown times go to the CRM on purpose, so only distinct times are symmetric.
    local_time, remote_time = data.draw(
        st.lists(TIMES.filter(bool), min_size=2, max_size=2, unique=True)
    )
    scenario = replace(
        data.draw(scenarios(mapped, remote_absent=False)),
        local_changed_at=local_time,
        remote_modified_at=remote_time,
    )
    result = scenario.run()
    mirrored = _mirrored(scenario)
    assert synced_values(mirrored.run().base) == synced_values(result.base)
    assert len(mirrored.run().conflicts) == len(result.conflicts)


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_always_crm_is_always_local_seen_from_the_other_side(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    mapped = data.draw(with_rules(_no_required(object_map), [Rule.ALWAYS_CRM]))
    scenario = data.draw(scenarios(mapped, remote_absent=False))
    flipped = replace(
        _mirrored(scenario),
        object_map=replace(
            mapped, fields=tuple(replace(e, rule=Rule.ALWAYS_LOCAL) for e in mapped.fields)
        ),
    )
    assert synced_values(flipped.run().base) == synced_values(scenario.run().base)


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_round_trip_through_the_map_is_lossless(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    scenario = data.draw(scenarios(object_map, "unchanged"))
    owned = {name: scenario.base[name] for name in object_map.local_fields}
    # A blank the CRM refuses (Salesforce LastName) is not written, so it cannot come back.
    for entry in object_map.synced:
        if entry.required and all(owned[name] is None for name in entry.local):
            for name in entry.local:
                del owned[name]
    assert to_local(object_map, to_remote(object_map, scenario.local)) == owned


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_push_without_a_crm_read_is_a_merge_with_the_crm_unchanged(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    mapped = data.draw(with_rules(_no_required(object_map), ALL_RULES))
    scenario = data.draw(scenarios(mapped, "local_only"))
    properties, new_base = outbound_changes(mapped, scenario.base, scenario.local)
    merged = scenario.run(remote={})
    assert properties == merged.remote_writes
    assert {**scenario.base, **new_base} == merged.base
    # Once written, the CRM's copy comes back as an echo.
    came_back = {**scenario.remote, **properties}
    echo = scenario.run(base={**scenario.base, **new_base}, remote=came_back)
    assert not echo.changed and echo.conflicts == ()


@by_map
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_crm_blank_kept_over_is_filled_with_the_local_value_and_then_settles(
    object_map: ObjectMap, data: st.DataObject
) -> None:
    """``on_blank: keep`` (status, type, tax rate): blanks in the CRM change nothing locally
    and are filled with the directory's values; once written, the next merge is a no-op."""
    mapped = data.draw(with_rules(object_map, ALL_RULES))
    scenario = data.draw(scenarios(mapped, "unchanged"))
    kept = [entry for entry in mapped.synced if entry.keep_on_blank]
    blanked = {**scenario.remote, **{entry.remote: mapped.blank for entry in kept}}
    result = scenario.run(remote=blanked)
    assert result.local_writes == {} and result.conflicts == () and result.problems == {}
    assert result.remote_writes == {
        entry.remote: write_entry(mapped, entry, entry_values(entry, scenario.local))
        for entry in kept
        if not all(is_blank(value) for value in entry_values(entry, scenario.local))
    }
    local, remote = apply(mapped, result, scenario.local, blanked)
    again = scenario.run(base=result.base, local=local, remote=remote)
    assert not again.changed and again.conflicts == ()
    assert synced_values(again.base) == synced_values(scenario.base)
