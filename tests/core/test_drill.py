"""Drill-down: the filter a group row builds selects exactly the flows of that group."""

from __future__ import annotations

import pytest

from flowtop.core.filter import compile_filter
from flowtop.core.groups import GROUPINGS, NO_VALUE, build_groups
from flowtop.core.model import Flow
from flowtop.core.store import FlowStore
from flowtop.demo.world import DemoWorld
from tests.core.factories import flow


def _demo_store(appliance: str | None = None, seed: int = 3) -> FlowStore:
    world = DemoWorld(seed=seed, flows=1000, clock=lambda: 0.0)
    store = FlowStore(appliance=appliance)
    store.apply([Flow.from_raw(row) for row in world.snapshot()], at=1.0)
    return store


@pytest.mark.parametrize("grouping_id", sorted(GROUPINGS))
def test_a_group_of_n_flows_drills_into_exactly_n_flows(grouping_id: str) -> None:
    """Issue 8: drill terms matched substrings, so a group of 18 flows drilled into 32.
    The flows of two appliances of a fleet, as the all-flows view has them."""
    grouping = GROUPINGS[grouping_id]
    stores = [_demo_store("dc"), _demo_store("austin-2", seed=4)]
    items = [(key, record.flow) for store in stores for key, record in store.records.items()]
    groups = build_groups(items, grouping)
    assert len(groups) > 1
    for group in groups:
        drill = compile_filter(grouping.drill_filter(group.value))
        selected = sorted(key for key, record_flow in items if drill.matches(record_flow))
        assert selected == sorted(group.keys), (grouping_id, group.value)


def test_drill_terms_match_whole_values_with_look_alike_neighbours() -> None:
    flows = [
        flow(1, ip_dscp="ef", application="HTTP", path="DC-INET"),
        flow(2, ip_dscp="default", application="HTTPS", path="DC-INET->London-INET"),
        flow(3, ip_dscp="ef", application="a*b", path=""),
        flow(4, ip_dscp="cs1", application="axxb", path="DC-INET"),
    ]
    items = [(item.key, item) for item in flows]
    for grouping_id in ("dscp", "application", "path"):
        grouping = GROUPINGS[grouping_id]
        for group in build_groups(items, grouping):
            drill = compile_filter(grouping.drill_filter(group.value))
            assert [key for key, item in items if drill.matches(item)] == group.keys
    assert any(group.value == NO_VALUE for group in build_groups(items, GROUPINGS["path"]))
